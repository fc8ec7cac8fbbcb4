"""Per-step overhead of the task balancers of :class:`TaskBalanceHook`.

A small multi-task conv model (one head per task plus a side output per task,
loss keys ``loss_<task>`` and ``loss_<task>_aux0`` as mmmtcp's segmentors
return them) is trained with mmengine's ``train_step``: with mmengine's
``OptimWrapper`` and no hook (``none``), with
:class:`~mmmtcp.engine.SkipNonFiniteOptimWrapper` (the configs' wrapper: a
finiteness check of the loss and a snapshot of the buffers per step) and no
hook (``skip-wrapper``), and with that wrapper and the hook installed, once
per balancer. The script prints the mean wall time per training step and the
overhead against the plain step, and the time of ``parse_losses`` alone.

Usage:
    python tools/benchmarks/benchmark_balancers.py [--iters 50] [--tasks 4]
        [--size 64] [--repeats 5]
"""
import argparse
import os.path as osp
import sys
import time
from types import SimpleNamespace
from typing import Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))  # this checkout's mmmtcp
import mmmtcp  # noqa: F401  # isort:skip
from mmmtcp.engine import SkipNonFiniteOptimWrapper, TaskBalanceHook
from mmmtcp.tasks import TASKS


class ToyMultiTaskModel(BaseModel):
    """Conv trunk with one main and one side head per task."""

    def __init__(self, tasks: List[str], channels: int = 32):
        super().__init__()
        self.tasks = tasks
        self.trunk = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1), nn.BatchNorm2d(channels),
            nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels), nn.ReLU())
        self.heads = nn.ModuleDict(
            {t: nn.Conv2d(channels, 1, 1)
             for t in tasks})
        self.side_heads = nn.ModuleDict(
            {t: nn.Conv2d(channels, 1, 1)
             for t in tasks})

    def forward(self, inputs, targets, mode='loss') -> Dict[str, torch.Tensor]:
        feats = self.trunk(inputs)
        losses = {}
        for t in self.tasks:
            losses[f'loss_{t}'] = F.l1_loss(self.heads[t](feats), targets)
            losses[f'loss_{t}_aux0'] = 0.5 * F.l1_loss(
                self.side_heads[t](feats), targets)
        return losses


def time_steps(model, optim_wrapper, hook, data, iters: int) -> float:
    """Mean seconds per step; with a hook, its ``before_train_iter`` runs
    before each step."""

    def step(i):
        if hook is not None:
            hook.before_train_iter(SimpleNamespace(iter=i), i)
        model.train_step(data, optim_wrapper)

    for i in range(3):
        step(i)
    start = time.perf_counter()
    for i in range(iters):
        step(i)
    return (time.perf_counter() - start) / iters


def time_parse(model, losses, iters: int) -> float:
    start = time.perf_counter()
    for _ in range(iters):
        model.parse_losses(losses)
    return (time.perf_counter() - start) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=50)
    parser.add_argument('--tasks', type=int, default=4)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    tasks = list(TASKS)[:args.tasks]
    data = dict(
        inputs=torch.randn(2, 3, args.size, args.size),
        targets=torch.randn(2, 1, args.size, args.size))

    balancers = {
        'none': None,
        'skip-wrapper': None,
        'FixedTaskWeights': dict(type='FixedTaskWeights'),
        'LossPrioritization': dict(type='LossPrioritization', period=10),
        'UncertaintyWeighting': dict(type='UncertaintyWeighting'),
        'DynamicWeightAverage': dict(type='DynamicWeightAverage', period=10),
    }
    print(f'{len(tasks)} tasks ({2 * len(tasks)} loss entries), '
          f'{args.size}x{args.size} input, {args.iters} steps, '
          f'{torch.get_num_threads()} threads')
    print(f'{"balancer":<22}{"step ms":>10}{"overhead ms":>13}'
          f'{"overhead %":>12}{"parse_losses us":>17}')
    setups = {}
    for name, cfg in balancers.items():
        model = ToyMultiTaskModel(tasks)
        wrapper_type = OptimWrapper if name == 'none' else \
            SkipNonFiniteOptimWrapper
        optim_wrapper = wrapper_type(
            torch.optim.AdamW(model.parameters(), lr=1e-4))
        hook = None
        if cfg is not None:
            hook = TaskBalanceHook(balancer=cfg)
            hook.install(model, optim_wrapper)
        setups[name] = (model, optim_wrapper, hook)
    # round-robin repeats, minimum: robust to other load on shared machines
    times = {name: [] for name in setups}
    for _ in range(args.repeats):
        for name, (model, optim_wrapper, hook) in setups.items():
            times[name].append(
                time_steps(model, optim_wrapper, hook, data, args.iters))
    base = min(times['none'])
    for name, (model, _, _) in setups.items():
        step = min(times[name])
        with torch.no_grad():
            losses = model(**data)
        parse = time_parse(model, losses, args.iters * 10)
        print(f'{name:<22}{step * 1e3:>10.2f}{(step - base) * 1e3:>13.3f}'
              f'{100 * (step - base) / base:>11.1f}%{parse * 1e6:>17.1f}')

if __name__ == '__main__':
    main()
