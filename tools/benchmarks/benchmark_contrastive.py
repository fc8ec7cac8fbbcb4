"""Training-step overhead of the cross-task contrastive regularizer.

Builds a model config with and without its regularizer (same weights), takes
one real training batch from the synthetic scenes through the config's train
pipeline and data preprocessor, and times ``train_step`` (forward, backward,
optimizer step) for both. Prints the median step time of each and the
overhead in percent.

Usage:
    python tools/benchmarks/benchmark_contrastive.py \
        [--config configs/contrastive/contrastive_mtcp_demo_synthetic.py] \
        [--iters 10] [--repeats 3]
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))  # this checkout's mmmtcp
import mmmtcp  # noqa: F401  # isort:skip
from mmmtcp.datasets import generate_scenes
from mmseg.registry import DATASETS, MODELS


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--config',
        default='configs/contrastive/contrastive_mtcp_demo_synthetic.py',
        help='a config whose model has a `regularizer`')
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None)
    return parser.parse_args()


def step_times(model, cfg, batch, iters):
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    model.train_step(batch, optim_wrapper)  # warm-up
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        model.train_step(batch, optim_wrapper)
        times.append(time.perf_counter() - start)
    return times


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    if 'regularizer' not in cfg.model:
        raise KeyError(f'{args.config} has no `model.regularizer`')
    with tempfile.TemporaryDirectory() as tmp:
        n = cfg.train_dataloader.batch_size
        generate_scenes(tmp + '/scenes', num_train=n, num_val=1, seed=0)
        dataset_cfg = cfg.train_dataloader.dataset.copy()
        dataset_cfg.data_root = tmp + '/scenes'
        dataset = DATASETS.build(dataset_cfg)
        batch = pseudo_collate([dataset[i] for i in range(n)])

    torch.manual_seed(0)
    model_on = MODELS.build(cfg.model)
    cfg_off = cfg.copy()
    cfg_off.model.pop('regularizer')
    model_off = MODELS.build(cfg_off.model)
    model_off.load_state_dict(model_on.state_dict(), strict=False)

    on, off = [], []
    for _ in range(args.repeats):
        off += step_times(model_off, cfg, batch, args.iters)
        on += step_times(model_on, cfg, batch, args.iters)
    t_off, t_on = statistics.median(off), statistics.median(on)
    shape = tuple(batch['inputs'][0].shape[-2:])
    print(f'config: {args.config}')
    print(f'batch: {n} x {shape}, threads: {torch.get_num_threads()}, '
          f'{len(on)} steps each')
    print(f'train step without regularizer: {t_off * 1000:.1f} ms')
    print(f'train step with regularizer:    {t_on * 1000:.1f} ms')
    print(f'overhead: {100 * (t_on - t_off) / t_off:+.1f}%')


if __name__ == '__main__':
    main()
