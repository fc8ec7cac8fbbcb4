"""Camera geometry of the data sets, transforms and the generator.

Built on :mod:`mmmtcp.utils.geometry` (conventions there): the NYUD-v2
camera, back-projection of a depth map and normals from depth with an
intrinsics dict.
"""
from typing import Dict, Optional

import numpy as np

from mmmtcp.utils.geometry import NORMAL_AXES, scale_intrinsics
from mmmtcp.utils.geometry import normals_from_depth as _normals_from_depth

__all__ = ['NORMAL_AXES', 'NYUD_INTRINSICS', 'scale_intrinsics', 'backproject',
           'normals_from_depth']

# NYU Depth v2 colour camera (NYU toolbox camera_params.m) at 640x480.
NYUD_INTRINSICS = dict(
    fx=518.858, fy=519.470, cx=325.582, cy=253.736, width=640, height=480)


def backproject(depth: np.ndarray, intrinsics: Dict) -> np.ndarray:
    """3-D points (``HxWx3``, normal-axes frame) of a z-depth map."""
    h, w = depth.shape
    k = scale_intrinsics(intrinsics, w, h) if (
        intrinsics['width'] != w or intrinsics['height'] != h) else intrinsics
    u = np.arange(w, dtype=np.float64)[None, :]
    v = np.arange(h, dtype=np.float64)[:, None]
    x = (u - k['cx']) / k['fx'] * depth
    y = -(v - k['cy']) / k['fy'] * depth
    z = -depth.astype(np.float64)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def normals_from_depth(depth: np.ndarray,
                       intrinsics: Dict,
                       valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Surface normals of a depth map by central differences.

    The computation is :func:`mmmtcp.utils.geometry.normals_from_depth`
    (the one the coherence metric uses), here with an intrinsics dict and an
    optional validity mask.

    Args:
        depth (np.ndarray): ``HxW`` z-depth in metres (``<= 0`` invalid).
        intrinsics (dict): Camera intrinsics (rescaled to the map size when
            their ``width``/``height`` differ).
        valid (np.ndarray, optional): Extra validity mask.

    Returns:
        np.ndarray: ``HxWx3`` float32 unit normals facing the camera in the
        ``NORMAL_AXES`` frame; zero where a neighbour is invalid and on the
        one-pixel border.
    """
    depth = np.asarray(depth, dtype=np.float64)
    if valid is not None:
        depth = np.where(valid.astype(bool), depth, 0.0)
    h, w = depth.shape
    k = scale_intrinsics(intrinsics, w, h)
    normals, _ = _normals_from_depth(depth, k['fx'], k['fy'], k['cx'],
                                     k['cy'], NORMAL_AXES)
    return normals.astype(np.float32)
