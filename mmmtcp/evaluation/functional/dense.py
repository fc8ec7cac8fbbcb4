"""Per-image accumulators and data-set summaries of the dense task metrics.

Each ``*_stats`` function turns one image's prediction and ground truth into
a small dict of numpy arrays whose size does not depend on the image size;
the stats of all images are summed (:func:`sum_stats`) and the matching
``summarize_*`` function turns the sums into metric values. Summing counts
and not per-image scores is what makes the metrics data-set level (pooled)
as in the multi-task dense prediction literature (ASTMT, MTL-PyTorch,
InvPT).

Units of the summaries: mIoU, accuracies, F-measures and "within" ratios in
percent; depth errors in the depth unit (metres); angles in degrees.
"""
from typing import Dict, Iterable, List, Optional

import numpy as np

from .boundary import (boundary_pr_counts, f_measure, pr_from_counts,
                       tolerance_in_pixels)
from .geometry import angular_error

Stats = Dict[str, np.ndarray]

#: Bin width (degrees) of the angular-error histogram used for the median.
ANGLE_BIN_WIDTH = 0.1
ANGLE_BINS = int(round(180 / ANGLE_BIN_WIDTH))
#: Thresholds (degrees) of the "within" normal accuracies.
ANGLE_THRESHOLDS = (11.25, 22.5, 30.0)


def sum_stats(stats: Iterable[Stats]) -> Stats:
    """Element-wise sum of per-image stats dicts (int sums in int64)."""
    total: Stats = {}
    for item in stats:
        for key, value in item.items():
            value = np.asarray(value)
            if value.dtype.kind in 'iub':
                value = value.astype(np.int64)
            if key in total:
                total[key] = total[key] + value
            else:
                total[key] = value.copy()
    return total


def thresholds_between(num: int) -> np.ndarray:
    """``num`` evenly spaced thresholds strictly inside ``(0, 1)``.

    ``k / (num + 1)`` for ``k = 1..num``: 99 gives 0.01..0.99 (the SEISM
    boundary default), 19 gives 0.05..0.95 (the saliency thresholds of
    MTL-PyTorch / InvPT).
    """
    if num < 1:
        raise ValueError(f'the number of thresholds must be >= 1, got {num}')
    return np.arange(1, num + 1, dtype=np.float64) / (num + 1)


# --------------------------------------------------------------- labels ----
def label_stats(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                ignore_index: int = 255, task: str = 'semseg') -> Stats:
    """Confusion matrix (rows gt, columns prediction) of one label map."""
    pred = np.asarray(pred).astype(np.int64).reshape(-1)
    gt = np.asarray(gt).astype(np.int64).reshape(-1)
    valid = gt != ignore_index
    pred, gt = pred[valid], gt[valid]
    if gt.size and (gt.min() < 0 or gt.max() >= num_classes):
        raise ValueError(
            f'{task}: ground-truth label {int(gt.max())} outside '
            f'[0, {num_classes}) and not the ignore index {ignore_index}; '
            'check the class list in dataset_meta')
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f'{task}: predicted label outside '
                         f'[0, {num_classes}): {int(pred.min())}..'
                         f'{int(pred.max())}')
    conf = np.bincount(
        gt * num_classes + pred, minlength=num_classes**2).reshape(
            num_classes, num_classes)
    return {'confusion': conf}


def summarize_labels(stats: Stats,
                     ignore_empty_classes: bool = True) -> Dict[str, float]:
    """mIoU and pixel accuracy from a summed confusion matrix.

    Args:
        stats (dict): ``{'confusion': C x C}``.
        ignore_empty_classes (bool): Leave classes out of the mean when they
            occur neither in the ground truth nor in the prediction
            (``TP + FP + FN = 0``). If False, their IoU counts as 0, which is
            what MTL-PyTorch / InvPT do (they divide by ``max(TP + FP + FN,
            1e-8)`` and average over all classes). On the full NYUD-v2 and
            PASCAL-Context validation sets every class occurs and both give
            the same number.

    Returns:
        dict: ``mIoU``, ``aAcc`` (percent) and ``IoU`` (per class array).
    """
    conf = stats['confusion'].astype(np.float64)
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    iou = np.where(union > 0, tp / np.where(union > 0, union, 1), 0.0)
    if ignore_empty_classes:
        present = union > 0
        miou = iou[present].mean() if present.any() else np.nan
    else:
        miou = iou.mean()
    total = conf.sum()
    acc = tp.sum() / total if total > 0 else np.nan
    iou_out = np.where(union > 0, iou, np.nan) * 100
    return {'mIoU': float(miou) * 100, 'aAcc': float(acc) * 100,
            'IoU': iou_out}


# ---------------------------------------------------------------- depth ----
def depth_stats(pred: np.ndarray, gt: np.ndarray) -> Stats:
    """Squared, relative and log errors summed over pixels with gt > 0."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    valid = gt > 0
    p, g = pred[valid], gt[valid]
    log_diff = np.log(np.maximum(p, 1e-9)) - np.log(g)
    return {
        'count': np.int64(valid.sum()),
        'sq_err': np.float64(((p - g)**2).sum()),
        'abs_rel': np.float64((np.abs(p - g) / g).sum()),
        'log_sq_err': np.float64((log_diff**2).sum()),
    }


def summarize_depth(stats: Stats) -> Dict[str, float]:
    """RMSE, abs-rel and log-RMSE pooled over all valid pixels."""
    n = float(stats['count'])
    if n == 0:
        return {'rmse': np.nan, 'abs_rel': np.nan, 'log_rmse': np.nan}
    return {
        'rmse': float(np.sqrt(stats['sq_err'] / n)),
        'abs_rel': float(stats['abs_rel'] / n),
        'log_rmse': float(np.sqrt(stats['log_sq_err'] / n)),
    }


# -------------------------------------------------------------- normals ----
def normal_stats(pred: np.ndarray, gt: np.ndarray) -> Stats:
    """Angular-error sums and histogram over pixels with non-zero gt.

    Args:
        pred (np.ndarray): ``H x W x 3`` predicted normals (normalized here).
        gt (np.ndarray): ``H x W x 3`` ground truth; all-zero is invalid.
    """
    valid = np.any(np.asarray(gt) != 0, axis=-1)
    ang = angular_error(np.asarray(pred)[valid], np.asarray(gt)[valid])
    bins = np.minimum((ang / ANGLE_BIN_WIDTH).astype(np.int64),
                      ANGLE_BINS - 1)
    return {
        'count': np.int64(ang.size),
        'sum': np.float64(ang.sum()),
        'sq_sum': np.float64((ang**2).sum()),
        'within': np.array([(ang < t).sum() for t in ANGLE_THRESHOLDS],
                           dtype=np.int64),
        'hist': np.bincount(bins, minlength=ANGLE_BINS).astype(np.int32),
    }


def histogram_median(hist: np.ndarray, bin_width: float) -> float:
    """Median of values given by a histogram with bins ``[k w, (k+1) w)``,
    interpolating linearly inside the bin that holds the middle value."""
    hist = np.asarray(hist, dtype=np.float64)
    total = hist.sum()
    if total == 0:
        return float('nan')
    half = total / 2.0
    cum = np.cumsum(hist)
    k = int(np.searchsorted(cum, half, side='left'))
    before = cum[k - 1] if k > 0 else 0.0
    return float((k + (half - before) / hist[k]) * bin_width)


def summarize_normals(stats: Stats) -> Dict[str, float]:
    """Mean, median, RMSE angle and percent of pixels within thresholds.

    The median comes from the summed histogram (0.1 degree bins, linear
    interpolation inside the median bin, so it is within 0.1 degree of the
    exact median).
    """
    n = float(stats['count'])
    keys = ['within_11_25', 'within_22_5', 'within_30']
    if n == 0:
        out = {'mean': np.nan, 'median': np.nan, 'rmse': np.nan}
        out.update({k: np.nan for k in keys})
        return out
    out = {
        'mean': float(stats['sum'] / n),
        'median': histogram_median(stats['hist'], ANGLE_BIN_WIDTH),
        'rmse': float(np.sqrt(stats['sq_sum'] / n)),
    }
    for key, count in zip(keys, stats['within']):
        out[key] = float(count) / n * 100
    return out


# ------------------------------------------------------------- saliency ----
def saliency_stats(prob: np.ndarray, gt: np.ndarray, thresholds: np.ndarray,
                   ignore_index: int = 255) -> Stats:
    """Per-threshold true/predicted/actual positives and the 2-class
    confusion matrix at 0.5 over pixels whose gt is not ``ignore_index``."""
    prob = np.asarray(prob, dtype=np.float64).reshape(-1)
    gt = np.asarray(gt).reshape(-1)
    valid = gt != ignore_index
    prob, fg = prob[valid], gt[valid] > 0
    # number of thresholds t with prob >= t
    level = np.searchsorted(thresholds, prob, side='right')
    n = len(thresholds)
    hist_all = np.bincount(level, minlength=n + 1)
    hist_fg = np.bincount(level[fg], minlength=n + 1)
    # predicted positive at threshold i <=> level > i
    pp = np.cumsum(hist_all[::-1])[::-1][1:]
    tp = np.cumsum(hist_fg[::-1])[::-1][1:]
    pred_half = prob >= 0.5
    conf = np.bincount(
        fg.astype(np.int64) * 2 + pred_half, minlength=4).reshape(2, 2)
    return {
        'tp': tp.astype(np.int64),
        'pp': pp.astype(np.int64),
        'ap': np.int64(fg.sum()),
        'confusion': conf,
    }


def summarize_saliency(stats: Stats, beta2: float = 0.3,
                       ignore_empty_classes: bool = True
                       ) -> Dict[str, float]:
    """maxF over thresholds from data-set sums and 2-class mIoU at 0.5."""
    tp = stats['tp'].astype(np.float64)
    pp = stats['pp'].astype(np.float64)
    ap = float(stats['ap'])
    precision = tp / np.where(pp > 0, pp, 1.0)
    recall = tp / ap if ap > 0 else np.zeros_like(tp)
    fscore = f_measure(precision, recall, beta2)
    labels = summarize_labels({'confusion': stats['confusion']},
                              ignore_empty_classes)
    return {'maxF': float(fscore.max()) * 100, 'mIoU': labels['mIoU']}


# ----------------------------------------------------------------- edge ----
def edge_stats(prob: np.ndarray,
               gt: np.ndarray,
               tolerance: float,
               thresholds: np.ndarray,
               ignore_index: int = 255) -> Stats:
    """Boundary matching counts of one image at all thresholds.

    Args:
        prob (np.ndarray): ``H x W`` boundary probability.
        gt (np.ndarray): ``H x W`` 0/1 boundary map, ``ignore_index`` pixels
            are removed from both maps.
        tolerance (float): Matching distance as a fraction of the diagonal.
        thresholds (np.ndarray): Thresholds.

    Returns:
        dict: ``counts`` (``N x 4``: matched / total predicted pixels,
        recalled / total gt pixels per threshold) and ``ois_counts`` (the
        counts at this image's best-F threshold).
    """
    gt = np.asarray(gt)
    valid = gt != ignore_index
    max_dist = tolerance_in_pixels(gt.shape, tolerance)
    counts = boundary_pr_counts(
        np.asarray(prob, dtype=np.float64), (gt == 1) & valid, max_dist,
        thresholds, valid=valid)
    precision, recall = pr_from_counts(counts)
    best = int(np.argmax(f_measure(precision, recall)))
    return {'counts': counts, 'ois_counts': counts[best].copy()}


def summarize_edges(stats: Stats) -> Dict[str, float]:
    """odsF (best threshold of the summed counts) and oisF (counts at each
    image's best threshold, summed), in percent."""
    precision, recall = pr_from_counts(stats['counts'])
    ods = f_measure(precision, recall).max()
    p_ois, r_ois = pr_from_counts(stats['ois_counts'])
    ois = f_measure(p_ois, r_ois)
    return {'odsF': float(ods) * 100, 'oisF': float(ois) * 100}


def per_class_table(names: Optional[List[str]], iou: np.ndarray) -> str:
    """Text table of per-class IoU for the log."""
    lines = ['class            IoU']
    for i, value in enumerate(iou):
        name = names[i] if names is not None and i < len(names) else str(i)
        lines.append(f'{str(name)[:15]:<15} {value:7.2f}')
    return '\n'.join(lines)
