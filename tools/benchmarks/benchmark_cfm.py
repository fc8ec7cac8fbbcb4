"""Peak memory and time of the Coherence Fusion Module's implementations.

Runs one :class:`CoherenceFusionModule` (NYUD-v2 setting: three tasks, so
two other tasks, 256 channels, fused width 512) on features at 1/4 of a
480x640 image (120x160 = 19,200 positions) with the explicit affinity
(``impl='naive'``, as in the reference code) and with the implementations
that never store it (``'sdpa'``, ``'chunked'``), for batch sizes 1 and 2,
in inference (no grad) and training (forward + backward) mode.

Every case runs in a fresh subprocess. On a GPU the peak is
``torch.cuda.max_memory_allocated``; on CPU it is the process' peak resident
memory (``VmHWM`` of ``/proc/self/status``, reset through
``/proc/self/clear_refs`` after the inputs are built) minus the resident
memory before the run.

Usage::

    python tools/benchmarks/benchmark_cfm.py [--height 120 --width 160]
        [--channels 256] [--batch-sizes 1 2] [--impls naive sdpa chunked]
        [--modes infer train] [--device cpu|cuda]
"""
import argparse
import json
import subprocess
import sys
import time


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

    torch.manual_seed(0)
    device = torch.device(args.device)
    cfm = CoherenceFusionModule(
        args.channels, [args.channels] * args.others, impl=args.impl,
        chunk_size=args.chunk_size).to(device)
    cfm.train(args.mode == 'train')
    shape = (args.batch_size, args.channels, args.height, args.width)
    x = torch.randn(shape, device=device, requires_grad=args.mode == 'train')
    others = [
        torch.randn(shape, device=device, requires_grad=args.mode == 'train')
        for _ in range(args.others)
    ]

    def step():
        if args.mode == 'train':
            cfm(x, others).sum().backward()
        else:
            with torch.no_grad():
                cfm(x, others)

    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        base = _status_kb('VmRSS') * 1024
    start = time.perf_counter()
    step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _status_kb('VmHWM') * 1024 - base
    return dict(impl=args.impl, batch_size=args.batch_size, mode=args.mode,
                peak_mib=peak / 2**20, seconds=elapsed,
                threads=torch.get_num_threads())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--height', type=int, default=120)
    parser.add_argument('--width', type=int, default=160)
    parser.add_argument('--channels', type=int, default=256)
    parser.add_argument('--others', type=int, default=2,
                        help='number of other tasks')
    parser.add_argument('--chunk-size', type=int, default=4096)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--impls', nargs='+',
                        default=['naive', 'sdpa', 'chunked'])
    parser.add_argument('--modes', nargs='+', default=['infer', 'train'])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--case', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--impl', help=argparse.SUPPRESS)
    parser.add_argument('--batch-size', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--mode', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args)))
        return

    print(f'CFM at {args.height}x{args.width}, {args.channels} channels, '
          f'{args.others} other tasks, device {args.device}')
    print(f'{"mode":<6} {"impl":<8} {"batch":>5} {"peak MiB":>10} '
          f'{"seconds":>8}')
    for mode in args.modes:
        for batch_size in args.batch_sizes:
            for impl in args.impls:
                cmd = [
                    sys.executable, __file__, '--case', '--impl', impl,
                    '--batch-size', str(batch_size), '--mode', mode,
                    '--height', str(args.height), '--width', str(args.width),
                    '--channels', str(args.channels), '--others',
                    str(args.others), '--chunk-size', str(args.chunk_size),
                    '--device', args.device
                ]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f'{mode:<6} {impl:<8} {batch_size:>5} failed: '
                          f'{proc.stderr.strip().splitlines()[-1:]}')
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f'{mode:<6} {impl:<8} {batch_size:>5} '
                      f'{r["peak_mib"]:>10.0f} {r["seconds"]:>8.2f}',
                      flush=True)


if __name__ == '__main__':
    main()
