"""Cross-task coherence measures of mmmtcp.

MT-CP ("Optimizing Dense Visual Predictions Through Multi-Task Coherence and
Prioritization", Fontana et al., WACV 2025) argues that the tasks' outputs
should agree with each other. These per-image statistics quantify two such
agreements without any ground truth: surface normals versus the normals
implied by the predicted depth, and predicted boundaries versus the
boundaries of the predicted label map.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from .boundary import boundary_match_counts, label_boundaries, thin
from .geometry import angular_error, normals_from_depth


def normal_depth_stats(depth: np.ndarray,
                       normals: np.ndarray,
                       intrinsics: Tuple[float, float, float, float],
                       normal_axes: Sequence[str],
                       mask: Optional[np.ndarray] = None) -> dict:
    """Angle sum between ``normals`` and the normals of ``depth``.

    Args:
        depth (np.ndarray): ``H x W`` depth, ``<= 0`` invalid.
        normals (np.ndarray): ``H x W x 3`` normals in ``normal_axes``.
        intrinsics (tuple): ``fx, fy, cx, cy`` in pixels of ``depth``.
        normal_axes (Sequence[str]): Axis convention of ``normals``.
        mask (np.ndarray, optional): ``H x W`` bool; pixels to use, further
            restricted to where the depth normals are defined.

    Returns:
        dict: ``count`` and ``sum`` (degrees) of the angles.
    """
    derived, defined = normals_from_depth(depth, *intrinsics,
                                          normal_axes=normal_axes)
    if mask is not None:
        defined &= mask
    ang = angular_error(normals[defined], derived[defined])
    return {'count': np.int64(ang.size), 'sum': np.float64(ang.sum())}


def edge_seg_stats(edge: np.ndarray,
                   labels: np.ndarray,
                   max_dist: float,
                   edge_threshold: Optional[float] = 0.5,
                   ignore_index: Optional[int] = None,
                   valid: Optional[np.ndarray] = None) -> dict:
    """Matching counts between a boundary map and a label map's boundaries.

    Args:
        edge (np.ndarray): ``H x W`` boundary probability (thresholded at
            ``edge_threshold`` and thinned) or, with ``edge_threshold=None``,
            a binary boundary map used as is.
        labels (np.ndarray): ``H x W`` label map; its boundaries (pixels
            with a 4-neighbour of another label, changes from or to
            ``ignore_index`` excluded) are thinned.
        max_dist (float): Matching distance in pixels.
        ignore_index (int, optional): Unknown label.
        valid (np.ndarray, optional): ``H x W`` bool; pixels outside are
            removed from both maps.

    Returns:
        dict: ``counts``: ``(cnt_p, sum_p, cnt_r, sum_r)`` with the edge map
        in the role of the prediction.
    """
    if edge_threshold is None:
        edge_b = np.asarray(edge, dtype=bool)
    else:
        edge_b = thin(np.asarray(edge) >= edge_threshold)
    seg_b = thin(label_boundaries(labels, ignore_index))
    if valid is not None:
        edge_b = edge_b & valid
        seg_b = seg_b & valid
    counts = boundary_match_counts(edge_b, seg_b, max_dist)
    return {'counts': np.asarray(counts, dtype=np.int64)}
