"""Boundary (edge) evaluation in the style of the BSDS / SEISM benchmarks.

The boundary protocol of the multi-task literature (ASTMT, MTL-PyTorch,
InvPT) runs the MATLAB SEISM code: the predicted boundary probability map is
thresholded at many levels, every binary map is thinned to one pixel width
(``bwmorph(.., 'thin', Inf)``) and its pixels are matched to the ground-truth
boundary pixels within a distance tolerance given as a fraction of the image
diagonal (``correspondPixels``). Counts summed over the data set give the
optimal-dataset-scale F (odsF); per-image best thresholds give oisF.

This module runs those steps per threshold. The thinning is
:func:`mmmtcp.functional.thinning.thin`, which also thins the PASCAL-Context
boundary ground truth. Two matchers count the hits:

- ``'correspond'`` (the protocol): the one-to-one assignment of
  ``correspondPixels``, :mod:`.correspond_pixels`;
- ``'dilate'``: a pixel is a hit when *any* pixel of the other map lies
  within the tolerance (:func:`boundary_match_counts`). Several pixels may
  share one partner, so both counts are upper bounds of the protocol's
  (measured 2-6 maxF points higher on cluttered maps); it is kept for
  comparison with numbers computed that way.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .thinning import thin
from .correspond_pixels import GroundTruthNeighbours, correspond_counts

#: The boundary matchers of :func:`boundary_pr_counts`.
MATCHERS = ('correspond', 'dilate')

#: Thresholds of the SEISM evaluation of the published multi-task tables
#: (``parameters/HED.txt`` of the SEISM wrapper of InvPT / TaskPrompter):
#: 0.001, 0.01, 0.02, ..., 0.99, 0.999; a pixel is a candidate when its
#: value is strictly above the threshold.
SEISM_THRESHOLDS = np.concatenate(
    [[0.001], np.arange(1, 100) / 100., [0.999]]).astype(np.float64)


def label_boundaries(labels: np.ndarray,
                     ignore_index: Optional[int] = None) -> np.ndarray:
    """Pixels of a label map with a 4-neighbour of a different label.

    Both sides of a label change are marked (like a non-zero Laplacian of
    the label map); :func:`thin` reduces them to one pixel width.

    Args:
        labels (np.ndarray): ``H x W`` integer label map.
        ignore_index (int, optional): Label of unknown pixels; changes from
            or to it are not boundaries.

    Returns:
        np.ndarray: ``H x W`` bool boundary map.
    """
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, dtype=bool)
    dx = labels[:, 1:] != labels[:, :-1]
    dy = labels[1:, :] != labels[:-1, :]
    if ignore_index is not None:
        known = labels != ignore_index
        dx &= known[:, 1:] & known[:, :-1]
        dy &= known[1:, :] & known[:-1, :]
    out[:, 1:] |= dx
    out[:, :-1] |= dx
    out[1:, :] |= dy
    out[:-1, :] |= dy
    return out


def tolerance_in_pixels(shape: Sequence[int], tolerance: float) -> float:
    """Matching distance in pixels: ``tolerance`` times the image diagonal."""
    h, w = shape[:2]
    return float(tolerance) * float(np.hypot(h, w))


def dilate_disk(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within Euclidean distance ``radius`` of a foreground pixel.

    Equivalent to ``distance_transform_edt(~mask) <= radius`` on the pixel
    grid, computed with a disk structuring element.
    """
    mask = np.asarray(mask, dtype=bool)
    r = int(np.floor(radius))
    if r < 1 or not mask.any():
        return mask.copy()
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    kernel = ((yy * yy + xx * xx) <= radius * radius).astype(np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def boundary_match_counts(pred: np.ndarray,
                          gt: np.ndarray,
                          max_dist: float,
                          gt_near: Optional[np.ndarray] = None
                          ) -> Tuple[int, int, int, int]:
    """Match two binary boundary maps within a distance.

    A predicted pixel is a hit when some ground-truth pixel lies within
    ``max_dist`` pixels, and a ground-truth pixel is recalled when some
    predicted pixel lies within ``max_dist``. Unlike SEISM's
    ``correspondPixels`` (a one-to-one bipartite assignment) one pixel may
    serve as the partner of several pixels of the other map, so both counts
    are upper bounds of SEISM's; they coincide when neither map has two
    pixels competing for the same partner.

    Args:
        pred (np.ndarray): ``H x W`` bool predicted boundary pixels.
        gt (np.ndarray): ``H x W`` bool ground-truth boundary pixels.
        max_dist (float): Matching distance in pixels.
        gt_near (np.ndarray, optional): Precomputed
            ``dilate_disk(gt, max_dist)``.

    Returns:
        tuple[int, int, int, int]: ``(cnt_p, sum_p, cnt_r, sum_r)``: matched
        and total predicted pixels, recalled and total ground-truth pixels.
    """
    sum_p = int(pred.sum())
    sum_r = int(gt.sum())
    if sum_p == 0 or sum_r == 0:
        return 0, sum_p, 0, sum_r
    if gt_near is None:
        gt_near = dilate_disk(gt, max_dist)
    cnt_p = int(np.count_nonzero(pred & gt_near))
    cnt_r = int(np.count_nonzero(gt & dilate_disk(pred, max_dist)))
    return cnt_p, sum_p, cnt_r, sum_r


def match_counts(pred: np.ndarray,
                 gt: np.ndarray,
                 max_dist: float,
                 matcher: str = 'correspond') -> Tuple[int, int, int, int]:
    """Matching counts of two binary boundary maps with either matcher.

    Args:
        pred (np.ndarray): ``H x W`` bool predicted boundary pixels.
        gt (np.ndarray): ``H x W`` bool ground-truth boundary pixels.
        max_dist (float): Matching distance in pixels.
        matcher (str): ``'correspond'`` or ``'dilate'``.

    Returns:
        tuple[int, int, int, int]: ``(cnt_p, sum_p, cnt_r, sum_r)``.
    """
    if matcher == 'correspond':
        return correspond_counts(pred, gt, max_dist)
    if matcher == 'dilate':
        return boundary_match_counts(pred, gt, max_dist)
    raise ValueError(f'matcher must be one of {MATCHERS}, got {matcher!r}')


def boundary_pr_counts(prob: np.ndarray,
                       gt: np.ndarray,
                       max_dist: float,
                       thresholds: np.ndarray,
                       valid: Optional[np.ndarray] = None,
                       thin_pred: bool = True,
                       matcher: str = 'correspond') -> np.ndarray:
    """Matching counts of a boundary probability map at every threshold.

    Args:
        prob (np.ndarray): ``H x W`` boundary map in ``[0, 1]``.
        gt (np.ndarray): ``H x W`` bool ground-truth boundary pixels.
        max_dist (float): Matching distance in pixels.
        thresholds (np.ndarray): ``N`` thresholds; a pixel is a boundary
            candidate at threshold ``t`` when ``prob > t`` (SEISM's
            ``read_one_cont_png``).
        valid (np.ndarray, optional): ``H x W`` bool; pixels outside it are
            removed from both maps.
        thin_pred (bool): Thin each thresholded map. Defaults to True.
        matcher (str): ``'correspond'`` (one-to-one, the protocol) or
            ``'dilate'`` (any partner within the tolerance).

    Returns:
        np.ndarray: ``N x 4`` int64 ``(cnt_p, sum_p, cnt_r, sum_r)`` rows.
    """
    if matcher not in MATCHERS:
        raise ValueError(f'matcher must be one of {MATCHERS}, got '
                         f'{matcher!r}')
    gt = np.asarray(gt, dtype=bool)
    if valid is not None:
        gt = gt & valid
    counts = np.zeros((len(thresholds), 4), dtype=np.int64)
    sum_r = int(gt.sum())
    counts[:, 3] = sum_r
    if matcher == 'correspond':
        neighbours = GroundTruthNeighbours(gt, max_dist) if sum_r else None
    else:
        gt_near = dilate_disk(gt, max_dist)
    prob = np.asarray(prob)
    # a float32 map is compared in single precision, as MATLAB compares a
    # single map with a double threshold
    cast = prob.dtype.type if prob.dtype.kind == 'f' else np.float64
    order = np.argsort(thresholds, kind='stable')
    for i in order:
        pred = prob > cast(thresholds[i])
        if valid is not None:
            pred &= valid
        if not pred.any():
            # thresholded maps are nested: higher thresholds are empty too
            break
        if thin_pred:
            pred = thin(pred)
        if matcher == 'dilate':
            counts[i] = boundary_match_counts(pred, gt, max_dist, gt_near)
        else:
            sum_p = int(pred.sum())
            matched = neighbours.count(pred) if neighbours is not None else 0
            counts[i] = (matched, sum_p, matched, sum_r)
    return counts


def f_measure(precision: np.ndarray,
              recall: np.ndarray,
              beta2: float = 1.0) -> np.ndarray:
    """F-measure ``(1 + b2) P R / (b2 P + R)``, 0 where ``P = R = 0``."""
    precision = np.asarray(precision, dtype=np.float64)
    recall = np.asarray(recall, dtype=np.float64)
    den = beta2 * precision + recall
    return np.where(den > 0, (1 + beta2) * precision * recall /
                    np.where(den > 0, den, 1.0), 0.0)


def pr_from_counts(counts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Precision and recall from ``(..., 4)`` matching counts.

    As in the BSDS benchmark, a ratio with a zero denominator is 0.
    """
    counts = np.asarray(counts, dtype=np.float64)
    cnt_p, sum_p, cnt_r, sum_r = np.moveaxis(counts, -1, 0)
    precision = cnt_p / np.where(sum_p > 0, sum_p, 1.0)
    recall = cnt_r / np.where(sum_r > 0, sum_r, 1.0)
    return precision, recall
