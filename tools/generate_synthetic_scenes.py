"""Write the procedurally generated scene data set (NYUD-v2 layout).

Example::

    python tools/generate_synthetic_scenes.py data/synthetic_scenes \
        --num-train 400 --num-val 100
"""
import argparse
import os.path as osp
import sys
import time

# this checkout's mmmtcp first, whichever one the environment has installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmmtcp.datasets.synthetic import generate_scenes  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='destination data_root')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--height', type=int, default=240)
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite', action='store_true', help='replace out_dir')
    parser.add_argument(
        '--albedo',
        action='store_true',
        help='also write albedo/<id>.png (the task of docs/en/add_a_task.md)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    ids = generate_scenes(
        args.out_dir,
        args.num_train,
        args.num_val,
        height=args.height,
        width=args.width,
        seed=args.seed,
        overwrite=args.overwrite,
        albedo=args.albedo)
    elapsed = time.perf_counter() - start
    total = len(ids['train']) + len(ids['val'])
    print(f'Wrote {len(ids["train"])} train + {len(ids["val"])} val scenes '
          f'({args.height}x{args.width}) to {args.out_dir} in '
          f'{elapsed:.1f} s ({total / elapsed:.1f} scenes/s)')


if __name__ == '__main__':
    main()
