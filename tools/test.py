"""Test (evaluate) a multi-task checkpoint with MMEngine's Runner.

Example::

    python tools/test.py configs/mtcp/mtcp_vitl_nyud.py CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --show-dir vis --out preds
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.runner import Runner

# this checkout's mmmtcp first, whichever one the environment has installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmmtcp  # noqa: F401  (registers mmmtcp modules, checks versions)
from mmmtcp.utils.config import (CfgOptionsAction, check_data_roots,
                                 load_config)
from mmmtcp.utils.dist import init_cpu_distributed


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a multi-task model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='directory where raw predictions are written in the community '
        'formats (png labels, npy depth, png normals, png edges/saliency)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where one picture per image (input, every task\'s '
        'prediction and ground truth) is written')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of the config, e.g. '
        'test_dataloader.batch_size=1 (a value with spaces, e.g. a '
        'path, is kept as typed)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg: Config,
                               args: argparse.Namespace) -> Config:
    """Turn on drawing in the ``visualization`` default hook."""
    default_hooks = cfg.get('default_hooks', {})
    if 'visualization' not in default_hooks:
        raise RuntimeError(
            '--show/--show-dir need `default_hooks.visualization` in the '
            f'config {args.config}, e.g. '
            "visualization=dict(type='MultiTaskVisualizationHook')")
    hook = default_hooks['visualization']
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
        if hook.get('type') == 'MultiTaskVisualizationHook':
            # one picture per image: <show_dir>/<image stem>.png
            hook['test_out_dir'] = osp.abspath(args.show_dir)
    return cfg


def build_config(args: argparse.Namespace) -> Config:
    """Load the config file and apply the command-line overrides."""
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)

    cfg.load_from = args.checkpoint
    cfg.resume = False

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.out is not None:
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for evaluator in evaluators:
            evaluator['output_dir'] = args.out
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    check_data_roots(cfg, ('test_dataloader',))
    init_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
