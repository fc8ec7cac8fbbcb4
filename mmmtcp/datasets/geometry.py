"""Camera geometry shared by the data sets, transforms and the generator.

Normals use the ``normal_axes=('right', 'up', 'toward_camera')`` frame of the
data set metainfo: x to the right in the image, y up, z out of the image
toward the camera (a wall facing the camera has ``n = (0, 0, 1)``).
Intrinsics are dicts ``dict(fx, fy, cx, cy, width, height)`` in pixel units
of an image of ``width x height`` (pixel centres at integer coordinates).
"""
from typing import Dict, Optional

import numpy as np

NORMAL_AXES = ('right', 'up', 'toward_camera')

# NYU Depth v2 colour camera (NYU toolbox camera_params.m) at 640x480.
NYUD_INTRINSICS = dict(
    fx=518.858, fy=519.470, cx=325.582, cy=253.736, width=640, height=480)


def scale_intrinsics(intrinsics: Dict, width: int, height: int) -> Dict:
    """Intrinsics of the same camera for an image resized to
    ``width x height``."""
    sx = width / float(intrinsics['width'])
    sy = height / float(intrinsics['height'])
    return dict(
        fx=intrinsics['fx'] * sx,
        fy=intrinsics['fy'] * sy,
        cx=intrinsics['cx'] * sx,
        cy=intrinsics['cy'] * sy,
        width=int(width),
        height=int(height))


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
    pts = backproject(depth, intrinsics)
    dx = np.zeros_like(pts)
    dy = np.zeros_like(pts)
    dx[:, 1:-1] = pts[:, 2:] - pts[:, :-2]
    dy[1:-1] = pts[2:] - pts[:-2]
    # image x to the right, image v downwards: cross(dx, -dy) faces +z
    n = np.cross(dx, -dy)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    ok = depth > 0
    if valid is not None:
        ok &= valid.astype(bool)
    ok4 = np.zeros_like(ok)
    ok4[1:-1, 1:-1] = (ok[1:-1, 1:-1] & ok[1:-1, 2:] & ok[1:-1, :-2]
                       & ok[2:, 1:-1] & ok[:-2, 1:-1])
    ok4 &= norm[..., 0] > 0
    n = np.where(ok4[..., None], n / np.maximum(norm, 1e-12), 0.)
    return n.astype(np.float32)
