"""Train a multi-task model with MMEngine's Runner.

Example::

    python tools/train.py configs/mtcp/mtcp_vitl_nyud.py
    python tools/train.py CONFIG --work-dir work_dirs/x --resume --amp
"""
import argparse
import logging
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

# this checkout's mmmtcp first, whichever one the environment has installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmmtcp  # noqa: F401  (registers mmmtcp modules, checks versions)
from mmmtcp.utils.config import (CfgOptionsAction, check_data_roots,
                                 load_config)
from mmmtcp.utils.dist import init_cpu_distributed


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a multi-task model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        help='resume from the given checkpoint, or from the latest '
        'checkpoint in the work dir when no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of the config, e.g. '
        'train_cfg.max_iters=100 "model.decode_head.tasks=[semseg,depth]" '
        '(a value with spaces, e.g. a path, is kept as typed)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torchrun passes --local-rank (or --local_rank with older launchers)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args: argparse.Namespace) -> Config:
    """Load the config file and apply the command-line overrides."""
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)

    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit(
                'tools/train.py: --amp needs a GPU (mmengine\'s '
                'AmpOptimWrapper runs float16 autocast on CUDA); no GPU is '
                'visible, so train without --amp (float32 on the CPU).')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        # each float32 wrapper and its AMP counterpart
        amp_of = dict(
            OptimWrapper='AmpOptimWrapper',
            SkipNonFiniteOptimWrapper='SkipNonFiniteAmpOptimWrapper')
        if optim_wrapper in amp_of.values():
            print_log(
                'AMP training is already enabled in the config.',
                logger='current',
                level=logging.WARNING)
        else:
            if optim_wrapper not in amp_of:
                raise ValueError(
                    '--amp only supports `optim_wrapper.type` '
                    f'{" or ".join(map(repr, amp_of))}, got '
                    f'{optim_wrapper!r}')
            cfg.optim_wrapper.type = amp_of[optim_wrapper]
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))
    init_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
