"""Cost of the boundary protocol and of a whole NYUD-v2-size evaluation from
saved predictions.

1. Writes (into ``--work-dir``, reused when already complete) a synthetic
   test set in the on-disk layout of :class:`NYUDv2Dataset`: ``--num-images``
   images of ``--size`` pixels (JPEG), 40-class label PNGs (a Voronoi
   partition, a few images with a small void patch), depth ``.npy`` (a
   plane per region plus noise, a few holes), normals PNGs, 0/255 edge PNGs
   (the label boundaries, 1-2 pixels wide: half of the maps are dilated
   to 2 pixels) and ``gt_sets/val.txt``; and
   predictions in the format ``MultiTaskMetric(output_dir=...)`` writes:
   labels from a perturbed partition with some regions of the wrong class,
   noisy depth and normals, and a boundary probability map like a
   network's (blurred, slightly shifted and partly missed boundaries over
   a low-amplitude clutter texture with noise, values over ``[0, 1]``).
2. Times the boundary statistics of one image
   (:func:`mmmtcp.functional.edge_stats`, SEISM thresholds, the
   protocol's defaults: NMS, ``thin(seg2bmap(gt))``, one-to-one matching)
   at 480x640 with tolerance 0.011 (NYUD-v2) and at 512x512 with 0.0075
   (PASCAL-Context size), after a warm-up call (numba compilation), and the
   same with ``matcher='dilate'``.
3. Evaluates the whole set with ``tools/analysis_tools/eval_predictions.py``
   (``configs/_base_/datasets/nyud_mt.py``, all four tasks) in ``--nproc``
   processes and prints the wall time and the metrics.

Timings are printed, never checked. The F-measures are those of the
synthetic predictions, not of a model. On the 2-pixel-wide edge maps the
protocol's ground truth ``thin(seg2bmap(gt))`` has two parallel lines per
boundary, so one-to-one matching recalls at most about half of them (a
perfect prediction scores odsF ~67 there, ~100 on the 1-pixel maps), which
is why the ``dilate`` matcher scores much higher on this set.

Usage::

    python tools/benchmarks/benchmark_boundary_eval.py [--num-images 654]
        [--size 480 640] [--nproc 2] [--timing-images 10]
        [--work-dir work_dirs/benchmark_boundary_eval] [--quick]
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import shutil
import statistics
import sys
import time
from typing import Dict, List, Tuple

import cv2
import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)  # this checkout's mmmtcp
import mmmtcp  # noqa: F401,E402  # isort:skip
from mmmtcp.functional import SEISM_THRESHOLDS, edge_stats  # noqa: E402
from mmmtcp.structures.data_sample import write_prediction  # noqa: E402

CONFIG = osp.join(ROOT, 'configs', '_base_', 'datasets', 'nyud_mt.py')
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'eval_predictions.py')
NUM_CLASSES = 40
#: bump when the generated data change, so old work dirs are rebuilt
DATA_VERSION = 1


# ---------------------------------------------------------------- scenes
def _voronoi(seeds: np.ndarray, height: int, width: int) -> np.ndarray:
    """Region index (into ``seeds``) of every pixel: nearest seed."""
    src = np.ones((height, width), np.uint8)
    src[seeds[:, 0], seeds[:, 1]] = 0
    _, lab = cv2.distanceTransformWithLabels(
        src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    lookup = np.zeros(int(lab.max()) + 1, np.int64)
    lookup[lab[seeds[:, 0], seeds[:, 1]]] = np.arange(len(seeds))
    return lookup[lab]


def _boundaries(region: np.ndarray) -> np.ndarray:
    """Pixels whose right or lower neighbour is in another region (a
    boundary 1 pixel wide, 2 on diagonal steps)."""
    out = np.zeros(region.shape, bool)
    out[:, :-1] |= region[:, :-1] != region[:, 1:]
    out[:-1, :] |= region[:-1, :] != region[1:, :]
    return out


def _noise(rng: np.random.Generator, shape: Tuple[int, ...]) -> np.ndarray:
    """Standard normal float32 noise."""
    return rng.standard_normal(shape, dtype=np.float32)


def _smooth_noise(rng: np.random.Generator, height: int, width: int,
                  cell: int) -> np.ndarray:
    """Zero-mean, unit-std noise smooth over ``cell`` pixels."""
    small = _noise(rng, (height // cell + 2, width // cell + 2))
    big = cv2.resize(small, (width + 2 * cell, height + 2 * cell),
                     interpolation=cv2.INTER_CUBIC)[cell:cell + height,
                                                    cell:cell + width]
    return (big - big.mean()) / (big.std() + 1e-6)


def make_sample(rng: np.random.Generator, height: int,
                width: int) -> Dict[str, np.ndarray]:
    """Ground truth and predictions of one synthetic NYUD-v2-like image.

    Returns:
        dict: ``img`` (BGR uint8), ``label`` (0..39, 255 void), ``depth``
        (metres, 0 invalid), ``normals`` (unit, ``H x W x 3``), ``edge``
        (0/1 uint8), and the predictions ``pred_label``, ``pred_depth``,
        ``pred_normals``, ``pred_edge`` (probability).
    """
    num = int(rng.integers(15, 45))
    flat = rng.choice(height * width, size=num, replace=False)
    seeds = np.stack([flat // width, flat % width], axis=1)
    region = _voronoi(seeds, height, width)
    classes = rng.integers(0, NUM_CLASSES, num)
    label = classes[region].astype(np.uint8)
    if rng.random() < 0.2:  # a small void patch (label 0 on disk)
        y, x = rng.integers(0, height - 20), rng.integers(0, width - 20)
        label[y:y + rng.integers(5, 20), x:x + rng.integers(5, 20)] = 255
    edge = _boundaries(region)
    if rng.random() < 0.5:  # some maps draw 2-pixel-wide boundaries
        edge = cv2.dilate(edge.astype(np.uint8),
                          np.ones((2, 2), np.uint8)).astype(bool)

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= height
    xx /= width
    base = rng.uniform(1.0, 6.0, num).astype(np.float32)
    gx = rng.uniform(-1.5, 1.5, num).astype(np.float32)
    gy = rng.uniform(-1.5, 1.5, num).astype(np.float32)
    depth = base[region] + gx[region] * xx + gy[region] * yy
    depth = np.clip(depth, 0.5, 9.5)
    depth += 0.01 * _noise(rng, depth.shape)
    holes = _smooth_noise(rng, height, width, 24) > 2.2
    depth[holes] = 0

    n = rng.normal(size=(num, 3)).astype(np.float32)
    n[:, 2] = np.abs(n[:, 2]) + 0.3  # facing the camera
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    normals = n[region]

    colors = rng.integers(30, 225, (num, 3)).astype(np.float32)
    img = colors[region] + 6 * _noise(rng, (height, width, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)

    # predictions: a perturbed partition (shifted boundaries), some regions
    # of the wrong class, some boundaries missed
    jitter = rng.normal(0, 0.01 * max(height, width), seeds.shape)
    pseeds = np.clip(np.round(seeds + jitter), 0, [height - 1, width - 1])
    pseeds = np.unique(pseeds.astype(np.int64), axis=0)
    pregion = _voronoi(pseeds, height, width)
    # map each predicted region to the gt region under its seed
    owner = region[pseeds[:, 0], pseeds[:, 1]]
    wrong = rng.random(len(pseeds)) < 0.15
    pclasses = np.where(wrong, rng.integers(0, NUM_CLASSES, len(pseeds)),
                        classes[owner])
    pred_label = pclasses[pregion].astype(np.uint8)

    scale = np.float32(rng.uniform(0.9, 1.1))
    pred_depth = (base[owner][pregion] + gx[owner][pregion] * xx +
                  gy[owner][pregion] * yy) * scale
    pred_depth += 0.15 * _smooth_noise(rng, height, width, 32)
    pred_depth += 0.05 * _noise(rng, pred_depth.shape)
    pred_depth = np.clip(pred_depth, 0.3, 10.0).astype(np.float32)

    pred_normals = n[owner][pregion] + 0.15 * np.stack(
        [_smooth_noise(rng, height, width, 16) for _ in range(3)], -1)
    pred_normals += 0.05 * _noise(rng, pred_normals.shape)
    pred_normals /= np.linalg.norm(pred_normals, axis=-1, keepdims=True)

    pb = _boundaries(pregion)
    # boundaries between regions of the same predicted class are weak
    same = np.zeros_like(pb)
    same[:, :-1] |= pred_label[:, :-1] == pred_label[:, 1:]
    same[:-1, :] |= pred_label[:-1, :] == pred_label[1:, :]
    strength = np.where(pb & same, 0.35, 1.0).astype(np.float32) * pb
    # blurred to a few pixels' width, the peak of a straight line at
    # 0.7-1.0
    sigma = float(rng.uniform(1.0, 2.5))
    prob = cv2.GaussianBlur(strength, (0, 0), sigma) * np.float32(
        np.sqrt(2 * np.pi) * sigma)
    prob = np.minimum(prob, 1.0) * np.float32(rng.uniform(0.7, 1.0))
    white = _noise(rng, (height, width))
    clutter = np.abs(
        cv2.GaussianBlur(white, (0, 0), 2.0) -
        cv2.GaussianBlur(white, (0, 0), 5.0))
    clutter = 0.25 * clutter / (clutter.max() + 1e-6)
    texture = np.clip(_smooth_noise(rng, height, width, 40), 0, None)
    prob = prob + clutter * (0.3 + texture)
    prob += np.abs(0.03 * _noise(rng, prob.shape))
    pred_edge = np.clip(prob, 0, 1).astype(np.float32)
    return dict(img=img, label=label, depth=depth.astype(np.float32),
                normals=normals, edge=edge.astype(np.uint8),
                pred_label=pred_label, pred_depth=pred_depth,
                pred_normals=pred_normals.astype(np.float32),
                pred_edge=pred_edge)


def _imwrite(path: str, img: np.ndarray) -> None:
    if not cv2.imwrite(path, img):
        raise IOError(f'could not write {path}')


def write_sample(data_root: str, pred_dir: str, stem: str,
                 s: Dict[str, np.ndarray]) -> None:
    """Write a sample's ground truth (NYUD-v2 layout) and predictions
    (``output_dir`` format)."""
    _imwrite(osp.join(data_root, 'images', stem + '.jpg'), s['img'])
    # the release's encoding: class k stored as k + 1, 0 = void
    stored = np.where(s['label'] == 255, 0, s['label'].astype(np.int64) + 1)
    _imwrite(osp.join(data_root, 'segmentation', stem + '.png'),
             stored.astype(np.uint8))
    np.save(osp.join(data_root, 'depth', stem + '.npy'), s['depth'])
    enc = np.clip(np.round((s['normals'] + 1) * 255 / 2), 0, 255)
    _imwrite(osp.join(data_root, 'normals', stem + '.png'),
             enc.astype(np.uint8)[..., ::-1])
    _imwrite(osp.join(data_root, 'edge', stem + '.png'), s['edge'] * 255)
    write_prediction(pred_dir, stem, 'semseg', s['pred_label'])
    write_prediction(pred_dir, stem, 'depth', s['pred_depth'])
    write_prediction(pred_dir, stem, 'normals', s['pred_normals'])
    write_prediction(pred_dir, stem, 'edge', s['pred_edge'])


def prepare(work_dir: str, num: int, height: int, width: int,
            seed: int) -> Tuple[str, str]:
    """Generate the data set and predictions unless a complete copy with
    the same settings exists.

    Returns:
        tuple[str, str]: ``data_root`` and the prediction directory.
    """
    name = f'nyud_like_{num}x{height}x{width}_seed{seed}'
    base = osp.join(work_dir, name)
    data_root, pred_dir = osp.join(base, 'data'), osp.join(base, 'preds')
    stamp = osp.join(base, 'complete.json')
    settings = dict(num=num, height=height, width=width, seed=seed,
                    version=DATA_VERSION)
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == settings:
                print(f'reusing {base}')
                return data_root, pred_dir
    if osp.exists(base):
        shutil.rmtree(base)
    for sub in ('images', 'segmentation', 'depth', 'normals', 'edge',
                'gt_sets'):
        os.makedirs(osp.join(data_root, sub))
    start = time.perf_counter()
    stems = []
    for i in range(num):
        stem = f'{i + 1:06d}'
        rng = np.random.default_rng([seed, i])
        write_sample(data_root, pred_dir, stem,
                     make_sample(rng, height, width))
        stems.append(stem)
    with open(osp.join(data_root, 'gt_sets', 'val.txt'), 'w') as f:
        f.write(''.join(s + '\n' for s in stems))
    with open(stamp, 'w') as f:
        json.dump(settings, f)
    print(f'generated {num} {height}x{width} images and predictions in '
          f'{time.perf_counter() - start:.1f} s into {base}')
    return data_root, pred_dir


# ---------------------------------------------------------------- timing
def time_edge_stats(samples: List[Dict[str, np.ndarray]], tolerance: float,
                    matcher: str) -> Tuple[float, float, float]:
    """Mean and max seconds per image of :func:`edge_stats`, and the odsF
    of the summed counts (percent)."""
    times = []
    counts = 0
    for s in samples:
        start = time.perf_counter()
        stats = edge_stats(s['pred_edge'], s['edge'], tolerance,
                           SEISM_THRESHOLDS, matcher=matcher)
        times.append(time.perf_counter() - start)
        counts = counts + stats['counts']
    from mmmtcp.functional import f_measure, pr_from_counts
    ods = float(f_measure(*pr_from_counts(counts)).max()) * 100
    return statistics.mean(times), max(times), ods


def edge_timings(num: int, seed: int) -> None:
    """Print per-image boundary statistics times at 480x640 and 512x512."""
    for (height, width), tolerance in (((480, 640), 0.011),
                                       ((512, 512), 0.0075)):
        rng = np.random.default_rng([seed, 10**6 + height])
        samples = [make_sample(rng, height, width) for _ in range(num)]
        # what the PNG holds (the metric reads the uint8 map)
        for s in samples:
            s['pred_edge'] = np.round(s['pred_edge'] * 255) / 255
        for matcher in ('correspond', 'dilate'):
            start = time.perf_counter()
            edge_stats(samples[0]['pred_edge'], samples[0]['edge'],
                       tolerance, SEISM_THRESHOLDS, matcher=matcher)
            warm = time.perf_counter() - start
            mean, worst, ods = time_edge_stats(samples, tolerance, matcher)
            print(f'edge_stats {height}x{width} tolerance={tolerance} '
                  f'matcher={matcher}: mean {mean:.3f} s/image, max '
                  f'{worst:.3f} s ({num} images; warm-up {warm:.2f} s; '
                  f'odsF {ods:.2f})', flush=True)


def load_tool():
    """``tools/analysis_tools/eval_predictions.py`` as a module."""
    spec = importlib.util.spec_from_file_location('eval_predictions', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir',
                        default='work_dirs/benchmark_boundary_eval')
    parser.add_argument('--num-images', type=int, default=654)
    parser.add_argument('--size', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'))
    parser.add_argument('--nproc', type=int, default=2,
                        help='processes of the whole-set evaluation')
    parser.add_argument('--timing-images', type=int, default=10,
                        help='images per per-image timing')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: 20 images, 3 timing images')
    args = parser.parse_args(argv)
    if args.quick:
        args.num_images = min(args.num_images, 20)
        args.timing_images = min(args.timing_images, 3)
    if args.num_images < 1 or args.timing_images < 1 or args.nproc < 1:
        parser.error('--num-images, --timing-images and --nproc must be '
                     'positive')
    height, width = args.size

    print('== per-image boundary statistics (101 SEISM thresholds) ==',
          flush=True)
    edge_timings(args.timing_images, args.seed)

    print('== whole-set evaluation from saved predictions ==', flush=True)
    data_root, pred_dir = prepare(args.work_dir, args.num_images, height,
                                  width, args.seed)
    tool = load_tool()
    start = time.perf_counter()
    metrics = tool.evaluate_predictions(
        CONFIG,
        pred_dir,
        nproc=args.nproc,
        cfg_options={'test_dataloader.dataset.data_root': data_root})
    elapsed = time.perf_counter() - start
    print(tool.format_table(metrics))
    nproc = min(args.nproc, args.num_images)
    print(f'whole set: {elapsed:.1f} s wall, {elapsed / args.num_images:.3f}'
          f' s/image wall, {elapsed * nproc / args.num_images:.3f} '
          f'process-s/image ({nproc} processes)')
    print(f'NYUD-v2 scale ({args.num_images} images, {height}x{width}, 4 '
          f'tasks, {nproc} processes): {elapsed:.1f} s (target <= 600 s)')


if __name__ == '__main__':
    main()
