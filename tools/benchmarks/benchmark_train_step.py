"""Where the time of one training step goes, for any config.

Builds the config's model with random (PyTorch default) weights (``init_cfg`` and
``pretrained`` dropped, so nothing is downloaded), writes a few synthetic
scenes at the requested size, takes one batch through the config's train
pipeline and data preprocessor, and runs ``train_step`` (forward, backward,
optimizer step) ``--steps`` times after one warm-up step. Prints

- the median step time and the process' peak resident memory;
- forward time per part of the model (the segmentor's children and the
  decode head's children: backbone, neck, decoders, CFMs, SRM, ...),
  measured with forward hooks, and the rest of the step (losses, backward,
  optimizer, balancer);
- with ``--profile``, the operators that take the most time in one step
  (``torch.profiler``, self CPU time).

Usage::

    python tools/benchmarks/benchmark_train_step.py CONFIG \\
        [--shape 480 640] [--batch-size 1] [--steps 2] [--profile]
        [--cfg-options KEY=VALUE ...]

Compare two configs (e.g. ``configs/mtcp/mtcp_vitl_nyud.py`` and
``configs/baseline/mt_baseline_vitl_nyud.py``) by running it for each.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time
from collections import defaultdict

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))  # this checkout's mmmtcp
import mmmtcp  # noqa: F401  # isort:skip
from mmmtcp.datasets import generate_scenes
from mmmtcp.utils.config import CfgOptionsAction
from mmseg.registry import DATASETS, MODELS


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'))
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config keys, e.g. '
        'model.decode_head.cfm.attn_downsample=2')
    return parser.parse_args()


def _strip_init(cfg) -> None:
    """Drop pretrained weights everywhere in a model config."""
    if isinstance(cfg, dict):
        cfg.pop('pretrained', None)
        if 'init_cfg' in cfg and isinstance(cfg['init_cfg'], dict) and \
                cfg['init_cfg'].get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for value in cfg.values():
            _strip_init(value)
    elif isinstance(cfg, list):
        for value in cfg:
            _strip_init(value)


def _batch(cfg, shape, batch_size, root):
    height, width = shape
    generate_scenes(root, num_train=batch_size, num_val=1, height=height,
                    width=width, seed=0)
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.data_root = root
    dataset = DATASETS.build(ds_cfg)
    return pseudo_collate([dataset[i] for i in range(batch_size)])


def _timed_parts(model):
    """Forward-hook timers on the segmentor's and the head's children."""
    totals = defaultdict(float)
    starts = {}
    parts = [(n, m) for n, m in model.named_children()
             if n != 'data_preprocessor']
    head = getattr(model, 'decode_head', None)
    if head is not None:
        parts += [(f'decode_head.{n}', m) for n, m in head.named_children()
                  if not n.startswith('loss')]
    handles = []
    for name, module in parts:
        # containers are never called themselves: time their items
        if isinstance(module, (torch.nn.ModuleDict, torch.nn.ModuleList)):
            items = list(module.children())
        else:
            items = [module]
        for item in items:
            def pre(_m, _i, name=name):
                starts[name] = time.perf_counter()

            def post(_m, _i, _o, name=name):
                totals[name] += time.perf_counter() - starts.pop(name)

            handles.append(item.register_forward_pre_hook(pre))
            handles.append(item.register_forward_hook(post))
    return totals, handles


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    _strip_init(cfg.model)
    model = MODELS.build(cfg.model)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    with tempfile.TemporaryDirectory() as tmp:
        batch = _batch(cfg, args.shape, args.batch_size, tmp + '/scenes')
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f'{args.config}: {n_params:.1f}M parameters, batch '
          f'{args.batch_size} x {args.shape[0]}x{args.shape[1]}, '
          f'{torch.get_num_threads()} threads')
    model.train_step(batch, optim_wrapper)  # warm-up
    totals, handles = _timed_parts(model)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        model.train_step(batch, optim_wrapper)
        times.append(time.perf_counter() - start)
    for h in handles:
        h.remove()
    step = statistics.median(times)
    with open('/proc/self/status') as f:
        peak = [int(line.split()[1]) for line in f
                if line.startswith('VmHWM:')][0] / 2**20
    print(f'step: {step:.2f} s (median of {args.steps}), peak RSS '
          f'{peak:.2f} GiB')
    print('forward per part (s per step):')
    counted = 0.
    for name, total in totals.items():
        per_step = total / args.steps
        if '.' not in name:
            counted += per_step
        print(f'  {name:<32} {per_step:8.2f}')
    print(f'  {"rest (head outside its parts, losses, backward, optim)":<32}'
          f' {step - counted:8.2f}')
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model.train_step(batch, optim_wrapper)
        print(prof.key_averages().table(sort_by='self_cpu_time_total',
                                        row_limit=15))


if __name__ == '__main__':
    main()
