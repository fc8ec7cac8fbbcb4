"""Camera geometry of mmmtcp: the one implementation used by the data sets,
the transforms, the scene generator and the metrics.

Normals use the ``normal_axes`` frame of the data set metainfo, by default
``NORMAL_AXES = ('right', 'up', 'toward_camera')``: x to the right in the
image, y up, z out of the image toward the camera (a wall facing the camera
has ``n = (0, 0, 1)``).

Intrinsics are dicts ``dict(fx, fy, cx, cy, width, height)`` in pixel units
of an image of ``width x height``, with **pixel centres at integer
coordinates**: pixel ``(row v, column u)`` covers ``[u - 0.5, u + 0.5] x
[v - 0.5, v + 0.5]`` and its ray is ``((u - cx) / fx, (v - cy) / fy, 1)``.
Every change of the pixel grid maps the principal point with the affine
pixel map of that change (:func:`warp_intrinsics`):

- resize from ``W`` to ``W'`` columns, ``s = W' / W``: ``x -> (x + 0.5) * s
  - 0.5`` and ``fx -> fx * s`` (same for rows). This is the half-pixel-centre
  resampling of ``cv2.resize`` / ``mmcv.imresize`` (and of
  ``F.interpolate(..., align_corners=False)``, which restores predictions
  to ``ori_shape``): output pixel ``x'`` reads the source at ``(x' + 0.5) /
  s - 0.5``, so the image corners (``-0.5`` and ``W - 0.5``) map onto each
  other. E.g. the NYUD-v2 ``cx = 325.582`` at 640 columns becomes
  ``162.541`` at 320 (``cx * s`` would give ``162.791``, a quarter pixel
  off);
- crop at ``(x0, y0)``: ``x -> x - x0``;
- horizontal flip of ``W`` columns: ``x -> W - 1 - x`` (``mmcv.imflip``
  reverses the pixel order);
- zoom / rotation about the centre: the ``cv2.getRotationMatrix2D`` matrix
  about ``((W - 1) / 2, (H - 1) / 2)`` that ``cv2.warpAffine`` applies.

Under this convention a resize and a flip commute, and a resize followed by
the inverse resize gives back the original intrinsics exactly.
"""
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'NORMAL_AXES', 'AXIS_DIRECTIONS', 'NYUD_INTRINSICS', 'INTRINSICS_KEYS',
    'axes_matrix', 'check_intrinsics', 'warp_intrinsics',
    'scale_intrinsics', 'crop_intrinsics', 'flip_intrinsics',
    'restore_intrinsics', 'backproject', 'normals_from_depth', 'angular_error'
]

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

#: NYU Depth v2 colour camera (NYU toolbox ``camera_params.m``) at 640x480.
NYUD_INTRINSICS = dict(
    fx=518.858, fy=519.470, cx=325.582, cy=253.736, width=640, height=480)

#: Keys of an intrinsics dict.
INTRINSICS_KEYS = ('fx', 'fy', 'cx', 'cy', 'width', 'height')


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


def check_intrinsics(intrinsics: Mapping, name: str = 'intrinsics') -> None:
    """Raise ``KeyError`` naming ``name`` when a key of
    :data:`INTRINSICS_KEYS` is missing.

    Args:
        intrinsics (Mapping): The intrinsics dict.
        name (str): How to call it in the message, e.g.
            ``"dataset_meta['camera_intrinsics']"``.
    """
    missing = [k for k in INTRINSICS_KEYS if k not in intrinsics]
    if missing:
        raise KeyError(f'{name} lacks {missing} (intrinsics are '
                       f'dict({", ".join(INTRINSICS_KEYS)}))')


def warp_intrinsics(intrinsics: Mapping, matrix: np.ndarray, width: int,
                    height: int) -> Dict:
    """Intrinsics after mapping the pixel grid by an affine ``matrix``.

    ``matrix`` maps a point of the old image to the new one in the
    integer-pixel-centre coordinates of this module (the matrix that
    ``cv2.warpAffine`` applies). The principal point is mapped by it; the
    focal lengths are multiplied by the lengths of the images of the unit
    axes, which is exact for axis-aligned maps (resize, crop, flip) and for
    similarities when ``fx == fy``.

    Args:
        intrinsics (Mapping): ``fx, fy, cx, cy, width, height`` (other keys
            are kept).
        matrix (np.ndarray): ``2 x 3`` affine pixel map.
        width (int): Width of the new image.
        height (int): Height of the new image.

    Returns:
        dict: The intrinsics of the new image.
    """
    check_intrinsics(intrinsics)
    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    cx, cy = m @ np.array([intrinsics['cx'], intrinsics['cy'], 1.0])
    out = dict(intrinsics)
    out.update(
        fx=float(intrinsics['fx'] * np.hypot(m[0, 0], m[1, 0])),
        fy=float(intrinsics['fy'] * np.hypot(m[0, 1], m[1, 1])),
        cx=float(cx),
        cy=float(cy),
        width=int(width),
        height=int(height))
    return out


def scale_intrinsics(intrinsics: Mapping, width: int, height: int) -> Dict:
    """Intrinsics of the same camera for its image resized to ``width x
    height``.

    ``s = width / intrinsics['width']``; ``fx -> fx * s``, ``cx -> (cx +
    0.5) * s - 0.5`` (half-pixel centres, as ``cv2.resize`` resamples), and
    likewise for rows.

    Args:
        intrinsics (Mapping): ``fx, fy, cx, cy, width, height``.
        width (int): Width of the resized image.
        height (int): Height of the resized image.

    Returns:
        dict: The intrinsics of the resized image.
    """
    check_intrinsics(intrinsics)
    sx = width / float(intrinsics['width'])
    sy = height / float(intrinsics['height'])
    matrix = [[sx, 0., 0.5 * sx - 0.5], [0., sy, 0.5 * sy - 0.5]]
    return warp_intrinsics(intrinsics, matrix, width, height)


def crop_intrinsics(intrinsics: Mapping, x0: int, y0: int, width: int,
                    height: int) -> Dict:
    """Intrinsics of the ``width x height`` window at column ``x0``, row
    ``y0`` of the image (``cx -> cx - x0``, ``cy -> cy - y0``).

    Args:
        intrinsics (Mapping): ``fx, fy, cx, cy, width, height``.
        x0 (int): First column of the window.
        y0 (int): First row of the window.
        width (int): Width of the window.
        height (int): Height of the window.

    Returns:
        dict: The intrinsics of the window.
    """
    matrix = [[1., 0., -float(x0)], [0., 1., -float(y0)]]
    return warp_intrinsics(intrinsics, matrix, width, height)


def flip_intrinsics(intrinsics: Mapping, direction: str) -> Dict:
    """Intrinsics of the mirrored image (``cx -> width - 1 - cx`` for a
    horizontal flip, ``cy -> height - 1 - cy`` for a vertical one, both for
    a diagonal one).

    The focal lengths stay positive: the mirrored image is read as the
    image of the mirrored scene by the same kind of camera (which is why
    :class:`MultiTaskRandomFlip` also mirrors the normals).

    Args:
        intrinsics (Mapping): ``fx, fy, cx, cy, width, height`` of the image
            before the flip.
        direction (str): ``'horizontal'``, ``'vertical'`` or
            ``'diagonal'``.

    Returns:
        dict: The intrinsics of the flipped image.
    """
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise ValueError("flip direction must be 'horizontal', 'vertical' "
                         f"or 'diagonal', got {direction!r}")
    check_intrinsics(intrinsics)
    w, h = int(intrinsics['width']), int(intrinsics['height'])
    ax, bx = (-1., w - 1.) if direction != 'vertical' else (1., 0.)
    ay, by = (-1., h - 1.) if direction != 'horizontal' else (1., 0.)
    return warp_intrinsics(intrinsics, [[ax, 0., bx], [0., ay, by]], w, h)


def _camera_points(depth: np.ndarray, fx: float, fy: float, cx: float,
                   cy: float) -> np.ndarray:
    """``H x W x 3`` points ``Z * ((u - cx) / fx, (v - cy) / fy, 1)`` in the
    OpenCV camera frame."""
    h, w = depth.shape
    u = (np.arange(w, dtype=np.float64) - cx) / fx
    v = (np.arange(h, dtype=np.float64) - cy) / fy
    return np.stack((depth * u[None, :], depth * v[:, None], depth), axis=-1)


def backproject(depth: np.ndarray, fx: float, fy: float, cx: float,
                cy: float,
                normal_axes: Sequence[str] = NORMAL_AXES) -> np.ndarray:
    """3-D points of a z-depth map.

    Args:
        depth (np.ndarray): ``H x W`` z-depth.
        fx, fy, cx, cy (float): Intrinsics in pixels of ``depth``.
        normal_axes (Sequence[str]): Axis convention of the output.

    Returns:
        np.ndarray: ``H x W x 3`` float64 points in ``normal_axes``.
    """
    depth = np.asarray(depth, dtype=np.float64)
    return _camera_points(depth, fx, fy, cx, cy) @ axes_matrix(normal_axes).T


def normals_from_depth(depth: np.ndarray, fx: float, fy: float, cx: float,
                       cy: float,
                       normal_axes: Sequence[str] = NORMAL_AXES
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Surface normals of a depth map.

    Pixels are back-projected to 3-D points ``P = Z * ((u - cx) / fx,
    (v - cy) / fy, 1)``; the normal at a pixel is the cross product of the
    central differences ``P(u+1) - P(u-1)`` and ``P(v+1) - P(v-1)``,
    normalized and oriented toward the camera (``n . P < 0``), then
    expressed in ``normal_axes``. For intrinsics given at another size use
    :func:`scale_intrinsics` first.

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
    points = _camera_points(depth, fx, fy, cx, cy)
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

    Args:
        pred (np.ndarray): ``... x 3`` vectors.
        gt (np.ndarray): ``... x 3`` vectors.

    Returns:
        np.ndarray: ``...`` float64 angles in degrees.
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


def restore_intrinsics(intrinsics: Mapping, shape: Sequence[int],
                       flip_direction: Optional[str] = None) -> Dict:
    """Intrinsics of a sample for predictions restored to ``shape``.

    :class:`MultiTaskSegmentor` undoes the test-time flip and resizes the
    outputs to ``ori_shape``. The sample's ``camera_intrinsics`` follow the
    image through the test pipeline (and :class:`LoadMultiTaskAnnotations`
    brings them back to ``ori_shape``), so here the flip recorded in the
    metainfo is undone and the result scaled to ``shape``. Resizes and
    flips commute under this module's convention, so the order in which the
    pipeline applied them does not matter. A crop cannot be undone (the
    segmentor does not undo it either).

    Args:
        intrinsics (Mapping): The sample's ``camera_intrinsics``.
        shape (Sequence[int]): ``(H, W)`` of the restored maps.
        flip_direction (str, optional): The metainfo's ``flip_direction``
            when ``flip`` is true, else None.

    Returns:
        dict: Intrinsics in pixels of a ``shape`` map.
    """
    if flip_direction is not None:
        intrinsics = flip_intrinsics(intrinsics, flip_direction)
    h, w = shape[:2]
    return scale_intrinsics(intrinsics, w, h)
