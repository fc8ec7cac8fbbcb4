"""Cross-task coherence measures of mmmtcp.

MT-CP ("Optimizing Dense Visual Predictions Through Multi-Task Coherence and
Prioritization", Fontana et al., WACV 2025) argues that the tasks' outputs
should agree with each other. These per-image statistics quantify two such
agreements without any ground truth: surface normals versus the normals
implied by the predicted depth, and predicted boundaries versus the
boundaries of the predicted label map.

Non-finite inputs (NaN, +inf, -inf; :data:`NONFINITE_LABEL` in a label map)
never raise or make a measure NaN; they count as disagreement, the worst
value, as the task metrics do (see :mod:`.dense`), and each stats dict
counts the pixels so scored in ``nonfinite``.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from .geometry import angular_error, normals_from_depth
from .boundary import label_boundaries, match_counts, thin
from .dense import NONFINITE_LABEL, WORST_ANGLE, nonfinite_labels


def _cross_neighbourhood(mask: np.ndarray) -> np.ndarray:
    """Pixels that are in ``mask`` or have a 4-neighbour in it."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def normal_depth_stats(depth: np.ndarray,
                       normals: np.ndarray,
                       intrinsics: Tuple[float, float, float, float],
                       normal_axes: Sequence[str],
                       mask: Optional[np.ndarray] = None) -> dict:
    """Angle sum between ``normals`` and the normals of ``depth``.

    Non-finite inputs give the worst angle, :data:`WORST_ANGLE` = 180
    degrees, on the pixels the measure uses: where the normal has a
    non-finite component, and where the derived normal would use a
    non-finite depth (the pixel's or one of its 4 neighbours'). For the
    question whether a pixel's derived normal is defined, a non-finite depth
    counts as a valid depth, so those pixels are scored rather than dropped.

    Args:
        depth (np.ndarray): ``H x W`` depth, ``<= 0`` invalid.
        normals (np.ndarray): ``H x W x 3`` normals in ``normal_axes``.
        intrinsics (tuple): ``fx, fy, cx, cy`` in pixels of ``depth``.
        normal_axes (Sequence[str]): Axis convention of ``normals``.
        mask (np.ndarray, optional): ``H x W`` bool; pixels to use, further
            restricted to where the depth normals are defined.

    Returns:
        dict: ``count`` and ``sum`` (degrees) of the angles, and
        ``nonfinite``: pixels scored 180 degrees because an input was not
        finite.
    """
    depth = np.asarray(depth, dtype=np.float64)
    normals = np.asarray(normals, dtype=np.float64)
    bad_depth = ~np.isfinite(depth)
    derived, defined = normals_from_depth(
        np.where(bad_depth, 0.0, depth), *intrinsics,
        normal_axes=normal_axes)
    worst = ~np.all(np.isfinite(normals), axis=-1)
    if bad_depth.any():
        # interior pixels whose depth and 4 neighbours are valid or not
        # finite, and at least one of them is not finite
        usable = (depth > 0) | bad_depth
        complete = np.zeros_like(usable)
        complete[1:-1, 1:-1] = (
            usable[1:-1, 1:-1] & usable[1:-1, 2:] & usable[1:-1, :-2]
            & usable[2:, 1:-1] & usable[:-2, 1:-1])
        tainted = complete & _cross_neighbourhood(bad_depth)
        defined |= tainted
        worst |= tainted
    if mask is not None:
        defined &= mask
    ang = angular_error(
        np.where(worst[..., None], 0.0, normals)[defined], derived[defined])
    worst = worst[defined]
    ang[worst] = WORST_ANGLE
    return {
        'count': np.int64(ang.size),
        'sum': np.float64(ang.sum()),
        'nonfinite': np.int64(worst.sum())
    }


def edge_seg_stats(edge: np.ndarray,
                   labels: np.ndarray,
                   max_dist: float,
                   edge_threshold: Optional[float] = 0.5,
                   ignore_index: Optional[int] = None,
                   valid: Optional[np.ndarray] = None,
                   matcher: str = 'correspond') -> dict:
    """Matching counts between a boundary map and a label map's boundaries.

    Non-finite inputs count as disagreement, as in :func:`edge_stats`: a
    non-finite edge value is never an edge pixel and counts as an unmatched
    edge pixel (``sum_p`` + 1); a non-finite label (:data:`NONFINITE_LABEL`,
    or NaN / inf in a float map) draws no label boundary from or to it (as
    ``ignore_index``) and counts as an unrecalled label-boundary pixel
    (``sum_r`` + 1). Only pixels inside ``valid`` are counted.

    Args:
        edge (np.ndarray): ``H x W`` boundary probability (thresholded at
            ``edge_threshold`` and thinned) or, with ``edge_threshold=None``,
            a binary boundary map used as is.
        labels (np.ndarray): ``H x W`` label map; its boundaries (pixels
            with a 4-neighbour of another label, changes from or to
            ``ignore_index`` excluded) are thinned.
        max_dist (float): Matching distance in pixels.
        edge_threshold (float, optional): Threshold of ``edge``.
        ignore_index (int, optional): Unknown label.
        valid (np.ndarray, optional): ``H x W`` bool; pixels outside are
            removed from both maps.
        matcher (str): ``'correspond'`` (one-to-one, as the boundary
            metric) or ``'dilate'`` (any partner within ``max_dist``).

    Returns:
        dict: ``counts``: ``(cnt_p, sum_p, cnt_r, sum_r)`` with the edge map
        in the role of the prediction; ``nonfinite``: pixels of either map
        whose value is not finite.
    """
    edge = np.asarray(edge)
    labels = np.asarray(labels)
    inside = np.ones(edge.shape, dtype=bool) if valid is None else valid
    bad_edge = (~np.isfinite(edge) if edge.dtype.kind in 'fc' else
                np.zeros(edge.shape, dtype=bool))
    bad_label = nonfinite_labels(labels)
    if bad_edge.any():
        edge = np.where(bad_edge, -np.inf, edge)
    if bad_label.any():
        if ignore_index is None:
            ignore_index = NONFINITE_LABEL
        labels = np.where(bad_label, ignore_index, labels)
    if edge_threshold is None:
        edge_b = edge.astype(bool) & ~bad_edge
    else:
        edge_b = thin(edge >= edge_threshold)
    seg_b = thin(label_boundaries(labels, ignore_index))
    if valid is not None:
        edge_b = edge_b & valid
        seg_b = seg_b & valid
    counts = np.asarray(
        match_counts(edge_b, seg_b, max_dist, matcher), dtype=np.int64)
    n_edge = int((bad_edge & inside).sum())
    n_label = int((bad_label & inside).sum())
    counts[1] += n_edge
    counts[3] += n_label
    return {'counts': counts, 'nonfinite': np.int64(n_edge + n_label)}
