"""Bilinear resampling of dense maps with invalid pixels.

The masked rule of every regression-like map (depth, normals, any
regression kind): each output pixel is the valid-weighted average of its
valid bilinear neighbours, so invalid values never bleed into valid ones,
and it is valid only where at least half of the interpolation weight lies
on valid input. A resize and an affine warp share the rule.
"""
from typing import Callable, Tuple

import cv2
import numpy as np


def masked_resample(data: np.ndarray, valid: np.ndarray,
                    resample: Callable[[np.ndarray], np.ndarray],
                    min_weight: float = 0.5):
    """Bilinear resampling that ignores invalid pixels.

    ``resample`` maps a float32 ``H x W`` or ``H x W x C`` array onto the new
    grid with bilinear weights (a resize, a warp). Returns the valid-weighted
    average of the valid neighbours and the new validity (``True`` where at
    least ``min_weight`` of the interpolation weight lies on valid pixels);
    invalid values never bleed in.
    """
    v = valid.astype(np.float32)
    den = resample(v)
    src = data.astype(np.float32) * (v[..., None] if data.ndim == 3 else v)
    num = resample(src)
    if num.ndim == 2 and data.ndim == 3:
        num = num[..., None]
    new_valid = den >= min_weight
    den_b = den[..., None] if num.ndim == 3 else den
    out = np.where((new_valid[..., None] if num.ndim == 3 else new_valid),
                   num / np.maximum(den_b, 1e-6), 0.)
    return out.astype(np.float32), new_valid


def masked_resize(data: np.ndarray, valid: np.ndarray, size_hw: tuple,
                  min_weight: float = 0.5):
    """:func:`masked_resample` with a bilinear resize to ``size_hw``."""
    h, w = size_hw
    return masked_resample(
        data, valid,
        lambda x: cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR),
        min_weight)


def unit_normals(normals: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Re-normalize resampled normals to unit length; pixels that are
    invalid or whose vector vanished become the zero vector."""
    norm = np.linalg.norm(normals, axis=-1, keepdims=True)
    valid = valid & (norm[..., 0] > 1e-6)
    return np.where(valid[..., None], normals / np.maximum(norm, 1e-6),
                    0.).astype(np.float32)


def masked_warp(data: np.ndarray, valid: np.ndarray, matrix: np.ndarray,
                size_wh: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`masked_resample` with a bilinear affine warp (outside the
    source image counts as invalid)."""
    return masked_resample(
        data, valid, lambda x: cv2.warpAffine(
            x, matrix, size_wh, flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0))
