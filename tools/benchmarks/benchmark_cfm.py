"""Time and peak memory of the Coherence Fusion Module's implementations
against the reference algorithm, in one run.

One :class:`CoherenceFusionModule` in the NYUD-v2 setting of the MT-CP
reference (three tasks, so two other tasks, 256 channels, fused width 512)
runs on random features at several token grids, forward + backward
(``train``) and forward only (``infer``), batch 1 by default. The reference
algorithm is ``impl='naive'``: the explicit ``HW x HW`` affinity through
autograd, as the reference module ``GAAF_module2`` computes it. Every other
case computes the same function (``impl='rows'``, ``'sdpa'``,
``'chunked'``; ``+cp`` adds ``with_cp=True``), except ``+ds<N>``, which
pools the sending positions by ``attn_downsample=N`` (the accuracy/cost
knob: cheaper, but not the reference's function).

Each case runs in a fresh subprocess: one warm-up step on a grid of a
quarter of the size, then ``--steps`` measured steps (their median time).
Cases are interleaved (reference, then each implementation) and repeated
``--repeats`` times; the table shows the median time and the largest peak.
On a GPU the peak is ``torch.cuda.max_memory_allocated``; on the CPU it is
the process' peak resident memory (``VmHWM`` of ``/proc/self/status``,
reset through ``/proc/self/clear_refs`` after the inputs are built) minus
the resident memory before the step. Ratios are against the reference of the same grid
and mode (below 1: less time or memory than the reference).

Usage::

    python tools/benchmarks/benchmark_cfm.py [--sizes 30x40 60x80 ...]
        [--impls naive rows rows+cp sdpa chunked rows+ds2]
        [--modes train infer]
        [--channels 256] [--others 2] [--batch-size 1] [--repeats 3]
        [--attn-downsample 1] [--steps 1] [--device cpu|cuda] [--json FILE]
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))  # this checkout's mmmtcp

REFERENCE = 'naive'


def _status_kb(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


def run_case(args: argparse.Namespace) -> dict:
    """Measure one case in this process and return the numbers."""
    import torch

    from mmmtcp.models.layers import CoherenceFusionModule

    impl, *options = args.impl.split('+')
    downsample = args.attn_downsample
    for option in options:
        if option.startswith('ds') and option[2:].isdigit():
            downsample = int(option[2:])
        elif option != 'cp':
            raise ValueError(f'unknown option {option!r} in {args.impl!r} '
                             "(options: '+cp', '+ds<N>')")
    torch.manual_seed(0)
    device = torch.device(args.device)
    train = args.mode == 'train'
    cfm = CoherenceFusionModule(
        args.channels, [args.channels] * args.others, impl=impl,
        with_cp='cp' in options, attn_downsample=downsample).to(device)
    cfm.train(train)

    def inputs(height: int, width: int) -> Tuple:
        shape = (args.batch_size, args.channels, height, width)
        return tuple(
            torch.randn(shape, device=device, requires_grad=train)
            for _ in range(args.others + 1))

    def step(x, *others) -> None:
        if train:
            cfm(x, list(others)).sum().backward()
        else:
            with torch.no_grad():
                cfm(x, list(others))

    step(*inputs(max(1, args.height // 2), max(1, args.width // 2)))
    cfm.zero_grad(set_to_none=True)
    tensors = inputs(args.height, args.width)
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        base = _status_kb('VmRSS') * 1024
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step(*tensors)
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        cfm.zero_grad(set_to_none=True)
        for t in tensors:
            t.grad = None
    elapsed = statistics.median(times)
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _status_kb('VmHWM') * 1024 - base
    return dict(peak_mib=peak / 2**20, seconds=elapsed,
                threads=torch.get_num_threads())


def _case(args: argparse.Namespace, impl: str, mode: str, height: int,
          width: int) -> dict:
    cmd = [
        sys.executable, __file__, '--case', '--impl', impl, '--mode', mode,
        '--height', str(height), '--width', str(width), '--channels',
        str(args.channels), '--others', str(args.others), '--batch-size',
        str(args.batch_size), '--attn-downsample', str(args.attn_downsample),
        '--steps', str(args.steps), '--device', args.device
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:]
        return dict(error=' '.join(tail) or f'exit {proc.returncode}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _size(text: str) -> Tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'a size is HEIGHTxWIDTH, e.g. 120x160, got {text!r}')
    return height, width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=_size, nargs='+',
                        default=[(30, 40), (60, 80), (90, 120), (120, 160)],
                        help='token grids HEIGHTxWIDTH')
    parser.add_argument('--impls', nargs='+',
                        default=['rows', 'rows+cp', 'sdpa', 'chunked',
                                 'rows+ds2'],
                        help='implementations compared with the reference '
                        f'({REFERENCE!r}); "+cp" adds with_cp=True, "+ds2" '
                        'attn_downsample=2 (a cheaper function, not the '
                        "reference's)")
    parser.add_argument('--modes', nargs='+', default=['train', 'infer'])
    parser.add_argument('--channels', type=int, default=256)
    parser.add_argument('--others', type=int, default=2,
                        help='number of other tasks')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--attn-downsample', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--steps', type=int, default=1,
                        help='measured steps per process (their median '
                        'time; small grids are noisy with one step)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', help='also write the numbers here')
    parser.add_argument('--case', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--impl', help=argparse.SUPPRESS)
    parser.add_argument('--mode', help=argparse.SUPPRESS)
    parser.add_argument('--height', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--width', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args)))
        return

    impls = [REFERENCE] + [i for i in args.impls if i != REFERENCE]
    print(f'CFM, {args.channels} channels, {args.others} other tasks, batch '
          f'{args.batch_size}, attn_downsample {args.attn_downsample}, '
          f'device {args.device}; median of {args.repeats} fresh processes '
          f'x {args.steps} step(s) per case; reference = impl={REFERENCE!r} '
          '(explicit affinity)')
    print(f'| mode | tokens | impl | peak MiB | seconds | memory ratio | '
          f'time ratio |')
    print('|---|---|---|---|---|---|---|')
    results: List[Dict] = []
    for mode in args.modes:
        for height, width in args.sizes:
            runs: Dict[str, List[dict]] = {i: [] for i in impls}
            for _ in range(args.repeats):
                for impl in impls:
                    runs[impl].append(_case(args, impl, mode, height, width))
            summary = {}
            for impl, rs in runs.items():
                ok = [r for r in rs if 'error' not in r]
                if not ok:
                    summary[impl] = dict(error=rs[0]['error'])
                    continue
                summary[impl] = dict(
                    peak_mib=max(r['peak_mib'] for r in ok),
                    seconds=statistics.median(r['seconds'] for r in ok))
            ref = summary[REFERENCE]
            for impl in impls:
                s = summary[impl]
                row = dict(mode=mode, height=height, width=width, impl=impl,
                           **s)
                results.append(row)
                if 'error' in s:
                    print(f'| {mode} | {height}x{width} | {impl} | failed: '
                          f'{s["error"]} | | | |', flush=True)
                    continue
                ratios = ('', '')
                if 'error' not in ref:
                    ratios = (f'{s["peak_mib"] / max(ref["peak_mib"], 1):.2f}',
                              f'{s["seconds"] / ref["seconds"]:.2f}')
                print(f'| {mode} | {height}x{width} | {impl} | '
                      f'{s["peak_mib"]:,.0f} | {s["seconds"]:.3f} | '
                      f'{ratios[0]} | {ratios[1]} |', flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
