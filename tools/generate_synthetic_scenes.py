"""Write the procedurally generated scene data set (NYUD-v2 layout).

Example::

    python tools/generate_synthetic_scenes.py data/synthetic_scenes \
        --num-train 400 --num-val 100
"""
import argparse
import time

from mmmtcp.datasets.synthetic import generate_scenes


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
        overwrite=args.overwrite)
    elapsed = time.perf_counter() - start
    total = len(ids['train']) + len(ids['val'])
    print(f'Wrote {len(ids["train"])} train + {len(ids["val"])} val scenes '
          f'({args.height}x{args.width}) to {args.out_dir} in '
          f'{elapsed:.1f} s ({total / elapsed:.1f} scenes/s)')


if __name__ == '__main__':
    main()
