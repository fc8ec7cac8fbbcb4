"""Geometry helpers for surface normals and depth.

Used by the cross-task coherence measure of mmmtcp (normals predicted by the
normals head compared with normals derived from the depth head through the
camera intrinsics) and by the normal error metrics.
"""
from typing import Mapping, Sequence, Tuple

import numpy as np

from mmmtcp.utils.geometry import (axes_matrix, normals_from_depth,
                                   scale_intrinsics)


__all__ = ['angular_error', 'axes_matrix', 'normals_from_depth',
           'scaled_intrinsics']


def scaled_intrinsics(intrinsics: Mapping[str, float],
                      shape: Sequence[int]) -> Tuple[float, float, float,
                                                     float]:
    """Scale camera intrinsics given at ``(width, height)`` to ``shape``.

    Args:
        intrinsics (Mapping[str, float]): ``fx, fy, cx, cy, width, height``.
        shape (Sequence[int]): ``(H, W)`` of the map they are used with.

    Returns:
        tuple[float, float, float, float]: ``fx, fy, cx, cy`` in pixels of
        the map.
    """
    missing = [k for k in ('fx', 'fy', 'cx', 'cy', 'width', 'height')
               if k not in intrinsics]
    if missing:
        raise KeyError(f"dataset_meta['camera_intrinsics'] lacks {missing}")
    h, w = shape[:2]
    k = scale_intrinsics(intrinsics, w, h)
    return (float(k['fx']), float(k['fy']), float(k['cx']), float(k['cy']))


def angular_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Angle in degrees between two fields of 3-vectors (last axis).

    Both are normalized first; a zero vector is at 90 degrees from every
    vector. ``2 atan2(|a - b|, |a + b|)`` is used for accuracy at small
    and large angles.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    pn = np.linalg.norm(pred, axis=-1, keepdims=True)
    gn = np.linalg.norm(gt, axis=-1, keepdims=True)
    pred = pred / np.where(pn > 0, pn, 1.0)
    gt = gt / np.where(gn > 0, gn, 1.0)
    diff = np.linalg.norm(pred - gt, axis=-1)
    summ = np.linalg.norm(pred + gt, axis=-1)
    return np.degrees(2.0 * np.arctan2(diff, summ))
