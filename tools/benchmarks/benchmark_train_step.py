"""Where the time of one training step goes, for any config.

Builds the config's model with random (PyTorch default) weights
(``init_cfg`` and ``pretrained`` dropped, so nothing is downloaded), writes
a few synthetic scenes at the requested size, takes one batch through the
config's train pipeline and data preprocessor, and runs ``train_step``
(forward, backward, optimizer step) ``--steps`` times after one warm-up
step. The synthetic
scenes are in the NYUD-v2 layout; for a config on another data set
(PASCAL-Context) the batch is random maps of every task at the requested
size, packed by ``PackMultiTaskInputs`` (the step's cost does not depend on
the maps' content). A data preprocessor that pads to a fixed ``size`` pads
to ``--shape`` instead. Prints

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

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))  # this checkout's mmmtcp
import mmmtcp  # noqa: F401  # isort:skip
from mmmtcp.datasets import NYUDv2Dataset, generate_scenes
from mmmtcp.tasks import get_task
from mmmtcp.utils.config import CfgOptionsAction
from mmseg.registry import DATASETS, MODELS, TRANSFORMS


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


def _random_batch(cfg, shape, batch_size):
    """Random ground truth of every task of the head, packed as the data
    sets pack theirs."""
    rng = np.random.default_rng(0)
    height, width = shape
    head = cfg.model.decode_head
    num_classes = head.get('num_classes') or {}
    pack = TRANSFORMS.build(dict(type='PackMultiTaskInputs'))
    samples = []
    for _ in range(batch_size):
        results = dict(
            img=rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
            tasks=list(head.tasks))
        for task in head.tasks:
            spec = get_task(task)
            kind = spec.kind_impl
            if kind.is_label:
                high = num_classes[task] if kind.needs_classes else 2
                gt = rng.integers(0, high, (height, width))
            else:
                gt = rng.uniform(0.5, 5.0, (height, width, spec.channels))
                if spec.kind == 'normal':
                    gt /= np.linalg.norm(gt, axis=-1, keepdims=True)
            results[spec.gt_key] = gt.squeeze()
        samples.append(pack(results))
    return pseudo_collate(samples)


def _batch(cfg, shape, batch_size, root):
    dataset_type = DATASETS.get(cfg.train_dataloader.dataset.type)
    if not issubclass(dataset_type, NYUDv2Dataset):
        return _random_batch(cfg, shape, batch_size)
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
    # a preprocessor that pads every batch to the config's crop size would
    # pad the requested shape up to it: measure at the requested shape
    preprocessor = cfg.model.get('data_preprocessor') or {}
    if preprocessor.get('size') is not None:
        preprocessor['size'] = tuple(args.shape)
    model = MODELS.build(cfg.model)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    with tempfile.TemporaryDirectory() as tmp:
        batch = _batch(cfg, args.shape, args.batch_size, tmp + '/scenes')
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    inputs = model.data_preprocessor(batch, True)['inputs']
    print(f'{args.config}: {n_params:.1f}M parameters, batch '
          f'{args.batch_size} x {args.shape[0]}x{args.shape[1]} (model '
          f'input {"x".join(map(str, inputs.shape))}), '
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
        # the head's parts count when the head itself was not timed (a
        # segmentor's loss() calls the head's methods, not its forward)
        if '.' not in name or (name.startswith('decode_head.')
                               and 'decode_head' not in totals):
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
