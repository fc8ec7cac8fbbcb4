"""Evaluate saved predictions against the test set of a config, without a
model.

Reads the files :class:`~mmmtcp.evaluation.MultiTaskMetric` writes with
``output_dir`` (``tools/test.py --out DIR``) or that another code base wrote
in the same community formats, one per task and image of the config's test
set::

    PRED_DIR/<task>/<image stem>.png    labels (uint8 ids, 255: no class),
                                        normals (RGB = (n + 1) * 255 / 2),
                                        edge / saliency (round(p * 255))
    PRED_DIR/depth/<image stem>.npy     float32 metres

and evaluates them with the config's ``test_evaluator`` (a
``MultiTaskMetric``) against the ground truth that the test pipeline loads
(``cfg.test_dataloader.dataset``), at the original resolution. Every
prediction is turned back into what the model puts into the data sample's
``pred_*`` field (see :func:`read_prediction`), so the metrics are those
``tools/test.py`` reports for the same predictions, up to what the file
formats cannot hold (normals and probabilities are quantized to uint8;
labels of 256 classes or more do not fit).

With ``--nproc N`` the images are evaluated by ``N`` worker processes (worker
``k`` on images ``k, k + N, ...``), each with its own data set and metric;
the parent folds the per-image statistics in data-set order, exactly as a
single process does, so the metrics do not depend on ``N`` (bit for bit,
floating-point sums included). The workers are spawned by default
(``--start-method``; see :mod:`mmmtcp.apis.offline_evaluation`, which
does the work).

Example::

    python tools/analysis_tools/eval_predictions.py \\
        configs/_base_/datasets/nyud_mt.py work_dirs/preds --nproc 2 \\
        --out work_dirs/preds_metrics.json \\
        --cfg-options test_dataloader.dataset.data_root=data/NYUDv2
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
import time
from typing import Dict, Optional, Sequence

import numpy as np

# this checkout's mmmtcp first, whichever one the environment has installed
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
from mmmtcp.apis.offline_evaluation import (  # noqa: E402
    START_METHODS, USER_ERRORS, evaluate_predictions, read_prediction)

__all__ = ['evaluate_predictions', 'read_prediction', 'main']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    from mmmtcp.utils.config import CfgOptionsAction
    parser = argparse.ArgumentParser(
        description='Evaluate saved multi-task predictions (the files '
        '`tools/test.py --out` writes) against the test set of a config')
    parser.add_argument('config', help='config file (test_dataloader and '
                        'test_evaluator are used)')
    parser.add_argument(
        'pred_dir', help='directory holding <task>/<image stem>.<png|npy>')
    parser.add_argument(
        '--nproc',
        type=int,
        default=None,
        help='worker processes (default: the number of usable CPUs, at '
        'most the number of images)')
    parser.add_argument(
        '--start-method',
        choices=START_METHODS,
        default=None,
        help='multiprocessing start method of the workers (default: spawn)')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of the config, e.g. '
        'test_dataloader.dataset.data_root=data/NYUDv2 (a value with '
        'spaces, e.g. a path, is kept as typed)')
    return parser.parse_args(argv)


def format_table(metrics: Dict[str, float]) -> str:
    """The metrics as a two-column text table."""
    if not metrics:
        return '(no metrics)'
    width = max(len('metric'), *(len(k) for k in metrics))
    lines = [f'| {"metric":<{width}} | {"value":>12} |',
             f'|{"-" * (width + 2)}|{"-" * 14}|']
    for key, value in metrics.items():
        if isinstance(value, (int, np.integer)):
            text = f'{int(value):d}'
        else:
            text = f'{float(value):.4f}'
        lines.append(f'| {key:<{width}} | {text:>12} |')
    return '\n'.join(lines)


def _jsonable(metrics: Dict[str, float]) -> Dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, (int, np.integer)):
            out[key] = int(value)
        else:
            value = float(value)
            out[key] = value if math.isfinite(value) else None
    return out


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Run the tool.

    Args:
        argv (Sequence[str], optional): Command-line arguments.

    Returns:
        dict[str, float]: The metrics.
    """
    args = parse_args(argv)
    start = time.perf_counter()
    metrics = evaluate_predictions(
        args.config,
        args.pred_dir,
        nproc=args.nproc,
        cfg_options=args.cfg_options,
        start_method=args.start_method)
    elapsed = time.perf_counter() - start
    print(format_table(metrics))
    print(f'evaluated {args.pred_dir} in {elapsed:.1f} s')
    if args.out:
        out_dir = osp.dirname(osp.abspath(args.out))
        os.makedirs(out_dir, exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(_jsonable(metrics), f, indent=2)
        print(f'metrics written to {args.out}')
    return metrics


if __name__ == '__main__':
    try:
        main()
    except USER_ERRORS as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f'eval_predictions.py: error: {message}', file=sys.stderr)
        sys.exit(1)
