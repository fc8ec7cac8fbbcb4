"""Camera geometry shared by the data sets, the generator and the metrics.

Normals use the ``normal_axes`` frame of the data set metainfo, by default
``NORMAL_AXES = ('right', 'up', 'toward_camera')``: x to the right in the
image, y up, z out of the image toward the camera (a wall facing the camera
has ``n = (0, 0, 1)``). Intrinsics are dicts ``dict(fx, fy, cx, cy, width,
height)`` in pixel units of an image of ``width x height``.
"""
from typing import Dict, Sequence, Tuple

import numpy as np

NORMAL_AXES = ('right', 'up', 'toward_camera')

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


def normals_from_depth(depth: np.ndarray, fx: float, fy: float, cx: float,
                       cy: float,
                       normal_axes: Sequence[str] = NORMAL_AXES
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
