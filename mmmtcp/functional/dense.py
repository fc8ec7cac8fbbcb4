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

Non-finite predictions: a predicted pixel that is NaN, +inf or -inf (in any
channel of a normal; :data:`NONFINITE_LABEL` in a label map) never raises an
error or makes a metric NaN. On pixels the metric evaluates (valid ground
truth) it is scored as the worst error the metric can give, and every
``*_stats`` dict has a ``nonfinite`` entry counting those pixels (per
ground-truth class for labels, a scalar otherwise). Per task:

- labels (semseg, human_parts): a prediction of no class. The pixel is a
  false negative of its ground-truth class and a false positive of none,
  so it lowers that class's IoU and the pixel accuracy.
- depth: the worst prediction in the image's depth range ``[0, D]``, ``D``
  the largest valid ground-truth depth of the image. Each error takes the
  largest value a prediction in that range can have at the pixel: absolute
  error ``max(g, D - g)`` (squared for the RMSE, over ``g`` for abs-rel)
  and log error ``max(log g - log 1e-9, log D - log g)`` (1e-9 is the floor
  of the log). All depth metrics stay finite.
- normals: 180 degrees (last histogram bin, within no threshold).
- saliency: the probability that is wrong at every threshold, ``1 - gt``:
  never positive on foreground, always positive on background.
- edge: never a boundary candidate (so it neither matches nor recalls a
  ground-truth pixel) and counted as an unmatched predicted boundary pixel
  (a false positive) at every threshold. ``1 - gt`` would not be worst
  here: thinning and the matching tolerance can turn a band of false
  positives next to a boundary into hits.
"""
from typing import Dict, Iterable, List, Optional

import numpy as np

from .boundary_maps import seg2bmap
from .geometry import angular_error
from .thinning import thin
from .boundary import (boundary_pr_counts, f_measure, pr_from_counts,
                       tolerance_in_pixels)
from .edge_nms import edge_nms, quantize_uint8

Stats = Dict[str, np.ndarray]

#: Bin width (degrees) of the angular-error histogram used for the median.
ANGLE_BIN_WIDTH = 0.1
ANGLE_BINS = int(round(180 / ANGLE_BIN_WIDTH))
#: Thresholds (degrees) of the "within" normal accuracies.
ANGLE_THRESHOLDS = (11.25, 22.5, 30.0)
#: Angle (degrees) given to a non-finite predicted normal.
WORST_ANGLE = 180.0
#: Floor of depth predictions inside the log error.
LOG_DEPTH_FLOOR = 1e-9
#: Label of a predicted pixel whose logits are not all finite (argmax would
#: otherwise pick a class for NaN logits): ``MultiTaskSegmentor`` writes it,
#: and it matches no class.
NONFINITE_LABEL = -1


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


def nonfinite_labels(pred: np.ndarray) -> np.ndarray:
    """Pixels of a label map whose prediction is not finite.

    Args:
        pred (np.ndarray): Label map, integer (where
            :data:`NONFINITE_LABEL` marks non-finite pixels) or float (where
            NaN / inf do too).

    Returns:
        np.ndarray: Bool mask of the shape of ``pred``.
    """
    pred = np.asarray(pred)
    bad = pred == NONFINITE_LABEL
    if pred.dtype.kind in 'fc':
        bad |= ~np.isfinite(pred)
    return bad


# --------------------------------------------------------------- labels ----
def label_stats(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                ignore_index: int = 255, task: str = 'semseg') -> Stats:
    """Confusion matrix (rows gt, columns prediction) of one label map.

    Args:
        pred (np.ndarray): Predicted label map; :data:`NONFINITE_LABEL` or a
            non-finite float marks a pixel whose prediction is not finite.
        gt (np.ndarray): Ground-truth label map.
        num_classes (int): Number of classes.
        ignore_index (int): Ground-truth label of unevaluated pixels.
        task (str): Task name for error messages.

    Returns:
        dict: ``confusion`` (``C x C``) over valid pixels with a finite
        prediction, and ``nonfinite`` (``C``): per ground-truth class, the
        valid pixels whose prediction is not finite. Such a pixel is a
        prediction of no class: a false negative of its ground-truth class
        (see :func:`summarize_labels`) and a false positive of none.
    """
    pred = np.asarray(pred).reshape(-1)
    gt = np.asarray(gt).astype(np.int64).reshape(-1)
    valid = gt != ignore_index
    pred, gt = pred[valid], gt[valid]
    if gt.size and (gt.min() < 0 or gt.max() >= num_classes):
        raise ValueError(
            f'{task}: ground-truth label {int(gt.max())} outside '
            f'[0, {num_classes}) and not the ignore index {ignore_index}; '
            'check the class list in dataset_meta')
    bad = nonfinite_labels(pred)
    pred = pred[~bad].astype(np.int64)
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f'{task}: predicted label outside '
                         f'[0, {num_classes}): {int(pred.min())}..'
                         f'{int(pred.max())}')
    conf = np.bincount(
        gt[~bad] * num_classes + pred, minlength=num_classes**2).reshape(
            num_classes, num_classes)
    missed = np.bincount(gt[bad], minlength=num_classes).astype(np.int64)
    return {'confusion': conf, 'nonfinite': missed}


def summarize_labels(stats: Stats,
                     ignore_empty_classes: bool = True) -> Dict[str, float]:
    """mIoU and pixel accuracy from a summed confusion matrix.

    Pixels with a non-finite prediction (``stats['nonfinite']``, per
    ground-truth class) are false negatives of their class: they add to the
    class's union and to the number of pixels, never to a true positive.

    Args:
        stats (dict): ``{'confusion': C x C}`` and optionally
            ``{'nonfinite': C}``.
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
    missed = np.zeros(conf.shape[0])
    if 'nonfinite' in stats:
        missed = np.asarray(stats['nonfinite'], dtype=np.float64)
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp + missed
    iou = np.where(union > 0, tp / np.where(union > 0, union, 1), 0.0)
    if ignore_empty_classes:
        present = union > 0
        miou = iou[present].mean() if present.any() else np.nan
    else:
        miou = iou.mean()
    total = conf.sum() + missed.sum()
    acc = tp.sum() / total if total > 0 else np.nan
    iou_out = np.where(union > 0, iou, np.nan) * 100
    return {'mIoU': float(miou) * 100, 'aAcc': float(acc) * 100,
            'IoU': iou_out}


# ---------------------------------------------------------------- depth ----
def depth_stats(pred: np.ndarray, gt: np.ndarray) -> Stats:
    """Squared, relative and log errors summed over pixels with gt > 0.

    A non-finite prediction (NaN, +inf, -inf) at a pixel with ground truth
    ``g`` is scored as the worst prediction in the image's depth range
    ``[0, D]``, ``D`` the largest valid ground-truth depth of the image:
    each error takes the largest value a prediction in that range can have
    there, i.e. absolute error ``max(g, D - g)`` (squared error and abs-rel
    follow from it) and log error ``max(log g - log 1e-9, log D - log g)``
    (predictions are floored at 1e-9 in the log). So every depth metric stays
    finite, and a non-finite pixel is at least as bad as any finite
    prediction in ``[0, D]``; only a finite prediction beyond ``D`` can be
    worse.

    Args:
        pred (np.ndarray): ``H x W`` predicted depth.
        gt (np.ndarray): ``H x W`` ground-truth depth; ``<= 0`` is invalid.

    Returns:
        dict: ``count`` of valid pixels, sums ``sq_err``, ``abs_rel`` and
        ``log_sq_err`` over them, and ``nonfinite``: valid pixels whose
        prediction is not finite.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    valid = gt > 0
    p, g = pred[valid], gt[valid]
    bad = ~np.isfinite(p)
    p = np.where(bad, g, p)  # placeholder, replaced by the worst error
    abs_err = np.abs(p - g)
    log_err = np.abs(np.log(np.maximum(p, LOG_DEPTH_FLOOR)) - np.log(g))
    if bad.any():
        far, g_bad = g.max(), g[bad]
        abs_err[bad] = np.maximum(g_bad, far - g_bad)
        log_err[bad] = np.maximum(
            np.log(g_bad) - np.log(LOG_DEPTH_FLOOR),
            np.log(far) - np.log(g_bad))
    return {
        'count': np.int64(valid.sum()),
        'sq_err': np.float64((abs_err**2).sum()),
        'abs_rel': np.float64((abs_err / g).sum()),
        'log_sq_err': np.float64((log_err**2).sum()),
        'nonfinite': np.int64(bad.sum()),
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

    A predicted normal with a non-finite component (NaN, +inf, -inf) has
    the worst angle, :data:`WORST_ANGLE` = 180 degrees: it falls in the last
    histogram bin and within no threshold.

    Args:
        pred (np.ndarray): ``H x W x 3`` predicted normals (normalized here).
        gt (np.ndarray): ``H x W x 3`` ground truth; all-zero is invalid.

    Returns:
        dict: ``count``, ``sum`` and ``sq_sum`` of the angles (degrees),
        ``within`` (pixels below each of :data:`ANGLE_THRESHOLDS`), ``hist``
        (0.1 degree bins) and ``nonfinite`` (valid pixels whose prediction
        is not finite).
    """
    gt = np.asarray(gt)
    valid = np.any(gt != 0, axis=-1)
    pred = np.asarray(pred)[valid]
    bad = ~np.all(np.isfinite(pred), axis=-1)
    ang = angular_error(np.where(bad[:, None], 0.0, pred), gt[valid])
    ang[bad] = WORST_ANGLE
    bins = np.minimum((ang / ANGLE_BIN_WIDTH).astype(np.int64),
                      ANGLE_BINS - 1)
    return {
        'count': np.int64(ang.size),
        'sum': np.float64(ang.sum()),
        'sq_sum': np.float64((ang**2).sum()),
        'within': np.array([(ang < t).sum() for t in ANGLE_THRESHOLDS],
                           dtype=np.int64),
        'hist': np.bincount(bins, minlength=ANGLE_BINS).astype(np.int32),
        'nonfinite': np.int64(bad.sum()),
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
    confusion matrix at 0.5 over pixels whose gt is not ``ignore_index``.

    A non-finite probability (NaN, +inf, -inf) is scored as the probability
    that is wrong at every threshold, ``1 - gt``: never positive on a
    foreground pixel, always positive on a background pixel (whatever the
    thresholds).

    Args:
        prob (np.ndarray): ``H x W`` foreground probability.
        gt (np.ndarray): ``H x W`` ground truth, foreground where ``> 0``.
        thresholds (np.ndarray): Thresholds; positive when ``prob >= t``.
        ignore_index (int): Ground-truth label of unevaluated pixels.

    Returns:
        dict: ``tp``, ``pp`` (per threshold), ``ap``, ``confusion`` (2 x 2
        at 0.5) and ``nonfinite`` (valid pixels whose prediction is not
        finite).
    """
    prob = np.asarray(prob, dtype=np.float64).reshape(-1)
    gt = np.asarray(gt).reshape(-1)
    valid = gt != ignore_index
    prob, fg = prob[valid], gt[valid] > 0
    bad = ~np.isfinite(prob)
    prob = np.where(bad, np.where(fg, -np.inf, np.inf), prob)
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
        'nonfinite': np.int64(bad.sum()),
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
               ignore_index: int = 255,
               matcher: str = 'correspond',
               nms: bool = True,
               gt_boundaries: bool = True) -> Stats:
    """Boundary matching counts of one image at all thresholds, as the SEISM
    protocol computes them from the image's saved prediction.

    The steps (each in the protocol's code; see
    :class:`~mmmtcp.evaluation.MultiTaskMetric`):

    1. the probability is quantized as its uint8 PNG stores it
       (:func:`.edge_nms.quantize_uint8`);
    2. with ``nms``, non-maximum suppression along the boundary normal
       (:func:`.edge_nms.edge_nms`, SEISM's ``read_one_cont_png``);
    3. with ``gt_boundaries``, the ground truth becomes
       ``thin(seg2bmap(gt))`` (SEISM's ``edgesEvalImg``);
    4. per threshold: ``> t``, thinned, matched with ``matcher``.

    A non-finite probability on a valid pixel is never a boundary candidate,
    so it neither matches nor recalls a ground-truth pixel, and it counts as
    an unmatched predicted boundary pixel (a false positive) at every
    threshold: it lowers precision at every threshold and cannot raise
    recall. (``1 - gt`` would not be the worst value here: thinning and the
    matching tolerance can turn false positives next to a ground-truth
    boundary into hits.)

    Args:
        prob (np.ndarray): ``H x W`` boundary probability.
        gt (np.ndarray): ``H x W`` 0/1 boundary map, ``ignore_index`` pixels
            are removed from both maps.
        tolerance (float): Matching distance as a fraction of the diagonal.
        thresholds (np.ndarray): Thresholds.
        ignore_index (int): Ground-truth label of unevaluated pixels.
        matcher (str): ``'correspond'`` or ``'dilate'``.
        nms (bool): Suppress non-maxima before thresholding.
        gt_boundaries (bool): Take ``thin(seg2bmap(gt))`` as ground truth.

    Returns:
        dict: ``counts`` (``N x 4``: matched / total predicted pixels,
        recalled / total gt pixels per threshold), ``ois_counts`` (the
        counts at this image's best-F threshold) and ``nonfinite`` (valid
        pixels whose prediction is not finite).
    """
    gt = np.asarray(gt)
    valid = gt != ignore_index
    prob = np.asarray(prob, dtype=np.float64)
    bad = ~np.isfinite(prob) & valid
    max_dist = tolerance_in_pixels(gt.shape, tolerance)
    edge = quantize_uint8(np.where(np.isfinite(prob) & valid, prob, 0.))
    if nms:
        edge = edge_nms(edge)
    gt_b = (gt == 1) & valid
    if gt_boundaries:
        gt_b = thin(seg2bmap(gt_b)) & valid
    counts = boundary_pr_counts(edge, gt_b, max_dist, thresholds,
                                valid=valid, matcher=matcher)
    counts[:, 1] += int(bad.sum())
    precision, recall = pr_from_counts(counts)
    best = int(np.argmax(f_measure(precision, recall)))
    return {
        'counts': counts,
        'ois_counts': counts[best].copy(),
        'nonfinite': np.int64(bad.sum())
    }


def summarize_edges(stats: Stats, suffix: str = '') -> Dict[str, float]:
    """odsF (best threshold of the summed counts) and oisF (counts at each
    image's best threshold, summed), in percent, as ``odsF<suffix>`` and
    ``oisF<suffix>``."""
    precision, recall = pr_from_counts(stats['counts'])
    ods = f_measure(precision, recall).max()
    p_ois, r_ois = pr_from_counts(stats['ois_counts'])
    ois = f_measure(p_ois, r_ois)
    return {f'odsF{suffix}': float(ods) * 100,
            f'oisF{suffix}': float(ois) * 100}


def per_class_table(names: Optional[List[str]], iou: np.ndarray) -> str:
    """Text table of per-class IoU for the log."""
    lines = ['class            IoU']
    for i, value in enumerate(iou):
        name = names[i] if names is not None and i < len(names) else str(i)
        lines.append(f'{str(name)[:15]:<15} {value:7.2f}')
    return '\n'.join(lines)
