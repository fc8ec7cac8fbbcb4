"""Geometry helpers for surface normals and depth.

Used by the cross-task coherence measure of mmmtcp (normals predicted by the
normals head compared with normals derived from the depth head through the
camera intrinsics) and by the normal error metrics.
"""
from typing import Mapping, Sequence, Tuple

import numpy as np

# Unit vectors of the named directions in the OpenCV camera frame
# (x right, y down in the image, z forward, away from the camera).
AXIS_DIRECTIONS = {
    'right': (1.0, 0.0, 0.0),
    'left': (-1.0, 0.0, 0.0),
    'down': (0.0, 1.0, 0.0),
    'up': (0.0, -1.0, 0.0),
    'away_from_camera': (0.0, 0.0, 1.0),
    'forward': (0.0, 0.0, 1.0),
    'toward_camera': (0.0, 0.0, -1.0),
    'backward': (0.0, 0.0, -1.0),
}


def axes_matrix(normal_axes: Sequence[str]) -> np.ndarray:
    """Matrix mapping OpenCV camera-frame vectors to ``normal_axes``.

    Args:
        normal_axes (Sequence[str]): The directions of the x, y and z
            components of the dataset's normals, e.g.
            ``('right', 'up', 'toward_camera')``.

    Returns:
        np.ndarray: ``3 x 3`` matrix ``M`` with ``n_dataset = M @ n_opencv``.
    """
    if len(normal_axes) != 3:
        raise ValueError(f'`normal_axes` must name 3 directions, got '
                         f'{normal_axes!r}')
    rows = []
    for name in normal_axes:
        if name not in AXIS_DIRECTIONS:
            raise ValueError(f'Unknown direction {name!r} in `normal_axes`; '
                             f'known: {sorted(AXIS_DIRECTIONS)}')
        rows.append(AXIS_DIRECTIONS[name])
    matrix = np.asarray(rows, dtype=np.float64)
    if abs(abs(np.linalg.det(matrix)) - 1) > 1e-6:
        raise ValueError(f'`normal_axes` {normal_axes!r} are not three '
                         'orthogonal directions')
    return matrix


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
    sx = w / float(intrinsics['width'])
    sy = h / float(intrinsics['height'])
    return (float(intrinsics['fx']) * sx, float(intrinsics['fy']) * sy,
            float(intrinsics['cx']) * sx, float(intrinsics['cy']) * sy)


def normals_from_depth(depth: np.ndarray, fx: float, fy: float, cx: float,
                       cy: float,
                       normal_axes: Sequence[str] = ('right', 'up',
                                                     'toward_camera')
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Surface normals of a depth map.

    Pixels are back-projected to 3-D points ``P = Z * ((u - cx) / fx,
    (v - cy) / fy, 1)``; the normal at a pixel is the cross product of the
    central differences ``P(u+1) - P(u-1)`` and ``P(v+1) - P(v-1)``,
    normalized and oriented toward the camera (``n . P < 0``), then
    expressed in ``normal_axes``.

    Args:
        depth (np.ndarray): ``H x W`` depth; values ``<= 0`` are invalid.
        fx, fy, cx, cy (float): Intrinsics in pixels of ``depth``.
        normal_axes (Sequence[str]): Axis convention of the output.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``H x W x 3`` float64 unit normals
        (zero where undefined) and the ``H x W`` bool mask where they are
        defined: interior pixels whose depth and four neighbours' depths are
        valid and whose tangents are not parallel.
    """
    depth = np.asarray(depth, dtype=np.float64)
    h, w = depth.shape
    normals = np.zeros((h, w, 3), dtype=np.float64)
    defined = np.zeros((h, w), dtype=bool)
    if h < 3 or w < 3:
        return normals, defined
    u = (np.arange(w, dtype=np.float64) - cx) / fx
    v = (np.arange(h, dtype=np.float64) - cy) / fy
    points = np.stack(
        (depth * u[None, :], depth * v[:, None], depth), axis=-1)
    du = points[1:-1, 2:] - points[1:-1, :-2]
    dv = points[2:, 1:-1] - points[:-2, 1:-1]
    n = np.cross(du, dv)
    norm = np.linalg.norm(n, axis=-1)
    valid = depth > 0
    ok = (valid[1:-1, 1:-1] & valid[1:-1, 2:] & valid[1:-1, :-2]
          & valid[2:, 1:-1] & valid[:-2, 1:-1] & (norm > 1e-12))
    n = n / np.where(norm > 1e-12, norm, 1.0)[..., None]
    facing_away = (n * points[1:-1, 1:-1]).sum(-1) > 0
    n[facing_away] *= -1
    n = n @ axes_matrix(normal_axes).T
    n[~ok] = 0
    normals[1:-1, 1:-1] = n
    defined[1:-1, 1:-1] = ok
    return normals, defined


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
