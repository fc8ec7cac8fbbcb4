"""Throughput of the NYUD-v2 multi-task training pipeline (images/s).

Generates 480x640 synthetic scenes in a temporary folder (or uses
``--data-root``) and runs the train pipeline of
``configs/_base_/datasets/nyud_mt.py`` through a DataLoader.

    python tools/benchmarks/benchmark_dataloading.py --num-images 40
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))  # this checkout's mmmtcp
import mmmtcp  # noqa: F401  # isort:skip
from mmmtcp.datasets.synthetic import generate_scenes
from mmseg.registry import DATASETS

CFG = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets',
    'nyud_mt.py')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default=None)
    parser.add_argument('--num-images', type=int, default=40)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=2)
    args = parser.parse_args()
    init_default_scope('mmseg')
    cfg = Config.fromfile(CFG)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_root
        if root is None:
            root = osp.join(tmp, 'scenes')
            start = time.perf_counter()
            generate_scenes(root, args.num_images, 0, height=480, width=640)
            print(f'generated {args.num_images} 480x640 scenes in '
                  f'{time.perf_counter() - start:.1f} s')
        ds_cfg = cfg.train_dataloader.dataset.copy()
        ds_cfg.update(data_root=root, split='train')
        dataset = DATASETS.build(ds_cfg)
        loader = DataLoader(
            dataset,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            collate_fn=pseudo_collate,
            shuffle=False)
        start = time.perf_counter()
        n = 0
        for batch in loader:
            n += len(batch['inputs'])
        elapsed = time.perf_counter() - start
    print(f'NYUD train pipeline: {n} images in {elapsed:.2f} s = '
          f'{n / elapsed:.1f} images/s (num_workers={args.num_workers})')


if __name__ == '__main__':
    main()
