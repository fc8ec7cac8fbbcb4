"""Readers of the annotation file formats of the multi-task data sets.

Each reader turns one file into a map in the conventions of
:mod:`mmmtcp.tasks.task_spec` (labels ``uint8`` with ``255`` ignored, depth
``float32`` metres with ``0`` invalid, normals ``float32 HxWx3`` unit vectors
with all-zero invalid). The data sets record, per sample and task, a path,
the name of its format and the reader's arguments (``num_classes``,
``depth_scale``...); :class:`LoadMultiTaskAnnotations` looks the reader up in
:data:`ANNOTATION_READERS`. A file that does not hold what its format says
raises :class:`AnnotationReadError` naming the file (and the config key that
fixes it, where there is one) instead of being read as something else.

Every PNG/JPEG map is read once into memory, checked for completeness by
:func:`mmmtcp.functional.image_check.check_image_bytes` (an empty, truncated
or damaged file is an error instead of a map with missing rows) and decoded
from the same buffer (:func:`read_image_bytes`). A ``.npy`` file whose data
stop short of the shape its header declares is an error naming the file.

Every single-channel PNG map (labels, edges, saliency) is read by
:func:`read_index_png` with PIL, as the reference loaders do
(``np.array(Image.open(path))``): a palette (``P``) PNG, e.g. VOC2012's
``SegmentationClass``, gives its palette *indices*; grayscale 8-bit (``L``)
and 16-bit (``I;16``) PNGs give their stored values. An RGB(A) PNG is
accepted only when its three colour channels are identical (a grayscale map
saved as RGB); a colour-coded map is an error. Colour images proper
(normals) are read with :func:`imread_unchanged` (cv2, 8 or 16 bit).

Formats of the NYUD-v2 releases (checked against the loaders of the
MTL-PyTorch and ATRC/InvPT code bases):

- ``nyud_seg_png``: ``segmentation/<id>.png`` holds ``0..40`` with ``0`` the
  void/unlabelled class; the loaders compute ``png - 1`` and map ``-1`` to
  ``255``, giving the 40 classes ``0..39``. A stored value above
  ``num_classes`` (the number of ``metainfo.classes``, 40) is an error.
- ``depth_npy``: ``depth/<id>.npy``, float (or integer) values times
  ``depth_scale`` (metres per stored unit, default ``1``) give metres;
  ``<= 0`` or non-finite is invalid. A map whose largest valid depth exceeds
  ``max_depth`` (default :data:`DEFAULT_MAX_DEPTH` m) is an error: it is in
  other units, e.g. millimetres (``depth_scale=0.001``).
- ``normals_png``: ``normals/<id>.png`` with ``rgb = (n + 1) * M / 2``,
  decoded as ``2 * png / M - 1`` in RGB channel order, with ``M = 255`` for
  8-bit and ``M = 65535`` for 16-bit files.
- ``normals_npy``: MTL-PyTorch ``normals/<id>.npy`` float ``HxWx3`` in
  ``[-1, 1]``.
- ``edge_png``: ATRC/InvPT ``edge/<id>.png``, decoded as ``png / M``
  (``M`` as for normals); a pixel is a boundary when that is ``>= 0.5``
  (files holding ``0/1`` instead of ``0/M`` are recognised by their
  maximum).
- ``edge_npy``: MTL-PyTorch ``edge/<id>.npy`` float ``0/1``.

Formats of PASCAL-Context (as the ATRC/InvPT and MTL-PyTorch loaders read
them) are described in :class:`PascalContextMTDataset`; its semseg PNGs
(``label_png``: values ``0..num_classes - 1`` and ``255``) and saliency PNGs
go through :func:`read_index_png`, its normals through the ``normals_png``
decoding.
"""
import io
import logging
import os
import os.path as osp
from typing import Callable, Dict, Optional, Sequence

import cv2
import numpy as np
from mmengine.logging import print_log
from PIL import Image

from .boundary_maps import relabel_regions, seg2bmap
from .thinning import thin
from .image_check import DamagedImageError, check_image_bytes

IGNORE = 255
#: Number of classes of the NYUD-v2 40-class protocol (stored values 1..40).
NYUD_NUM_CLASSES = 40
#: Default plausibility limit of depth maps, in metres. NYUD-v2 (Kinect)
#: depths stay below about 10 m and outdoor benchmarks (e.g. KITTI LiDAR)
#: below about 80 m, while a millimetre map exceeds 100 as soon as one
#: pixel is farther than 0.1 m, so a larger value means other units.
DEFAULT_MAX_DEPTH = 100.0

# Pascal-Part person part names -> the 6 groups of the multi-task protocol
# (0 is background): head, torso, upper arms, lower arms + hands, upper legs,
# lower legs + feet.
HUMAN_PART_GROUPS: Dict[str, int] = {
    'hair': 1, 'head': 1, 'lear': 1, 'rear': 1, 'lebrow': 1, 'rebrow': 1,
    'leye': 1, 'reye': 1, 'mouth': 1, 'nose': 1,
    'neck': 2, 'torso': 2,
    'luarm': 3, 'ruarm': 3,
    'llarm': 4, 'rlarm': 4, 'lhand': 4, 'rhand': 4,
    'luleg': 5, 'ruleg': 5,
    'llleg': 6, 'rlleg': 6, 'lfoot': 6, 'rfoot': 6,
}
PERSON_CLASS_IND = 15

# PASCAL-Context (459-class LabelMap) ids of the classes whose names also
# occur in NYUD-v2's label list (except 'unknown'), plus 'tvmonitor' (427).
# This is the set the MTL-PyTorch / ATRC loaders compute from
# db_info/nyu_classes.json and db_info/context_classes.json; distilled
# normals are valid only on these classes.
PASCAL_NORMALS_VALID_CLASSES = (
    3, 4, 6, 9, 10, 11, 13, 15, 17, 18, 22, 23, 29, 30, 33, 34, 36, 37, 38,
    39, 41, 43, 46, 49, 50, 51, 53, 55, 56, 59, 61, 62, 65, 66, 68, 69, 72,
    73, 78, 83, 84, 85, 87, 88, 95, 96, 101, 104, 105, 107, 111, 113, 115,
    122, 124, 135, 141, 142, 143, 146, 150, 154, 157, 158, 159, 165, 172,
    174, 181, 183, 184, 191, 193, 195, 197, 199, 202, 213, 215, 216, 219,
    220, 223, 225, 228, 230, 232, 233, 238, 239, 242, 243, 246, 250, 251,
    252, 255, 260, 261, 263, 269, 272, 273, 275, 281, 283, 284, 285, 286,
    287, 288, 290, 291, 292, 293, 295, 304, 307, 309, 310, 314, 315, 319,
    323, 329, 330, 331, 336, 342, 345, 349, 350, 351, 352, 355, 357, 368,
    370, 371, 374, 379, 380, 383, 384, 397, 401, 403, 405, 407, 408, 411,
    412, 413, 414, 417, 419, 421, 423, 427, 429, 430, 432, 440, 441, 442,
    443, 444, 446, 454, 457)


class AnnotationReadError(IOError):
    """An annotation file is missing, unreadable or malformed."""


def read_image_bytes(path: str) -> bytes:
    """The bytes of a PNG/JPEG annotation file, checked for completeness.

    Args:
        path (str): Path of the image file.

    Returns:
        bytes: The whole file, a complete JPEG or PNG.

    Raises:
        AnnotationReadError: The file is missing, or empty, truncated,
            damaged or neither JPEG nor PNG (see
            :func:`mmmtcp.functional.image_check.check_image_bytes`).
    """
    if not osp.isfile(path):
        raise AnnotationReadError(f'Annotation file not found: {path}')
    with open(path, 'rb') as f:
        data = f.read()
    try:
        check_image_bytes(data, path)
    except DamagedImageError as e:
        raise AnnotationReadError(str(e)) from e
    return data


def _imdecode_unchanged(data: bytes, path: str) -> np.ndarray:
    """Decode checked image bytes as stored (cv2, no colour conversion)."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AnnotationReadError(f'Cannot decode image file: {path}')
    return img


def imread_unchanged(path: str) -> np.ndarray:
    """Read an image file as stored (no colour conversion), or raise.

    Args:
        path (str): Path of a PNG or JPEG file.

    Returns:
        np.ndarray: The image as cv2 decodes it with
        ``IMREAD_UNCHANGED`` (BGR(A) channel order, 8 or 16 bit).

    Raises:
        AnnotationReadError: The file is missing, incomplete, damaged or
            cannot be decoded.
    """
    return _imdecode_unchanged(read_image_bytes(path), path)


def _npy_truncation(path: str) -> Optional[str]:
    """How a ``.npy`` file falls short of its header's array, if it does."""
    size = os.path.getsize(path)
    if size == 0:
        return 'the file is empty (0 bytes)'
    try:
        with open(path, 'rb') as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0
                           if version == (1, 0) else
                           np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
            offset = f.tell()
    except Exception as e:  # noqa: BLE001 - only a diagnosis
        return f'its header is incomplete or damaged ({e})'
    if dtype.hasobject:
        return None
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size - offset < expected:
        return (f'the file is truncated: its header declares a {dtype} '
                f'array of shape {tuple(shape)} ({expected} bytes of data) '
                f'but it holds {size - offset} bytes after the header')
    return None


def load_npy(path: str) -> np.ndarray:
    """Load a ``.npy`` array, or raise naming the file.

    Args:
        path (str): Path of the ``.npy`` file.

    Returns:
        np.ndarray: The stored array (pickled object arrays are refused).

    Raises:
        AnnotationReadError: The file is missing, empty, truncated or not a
            ``.npy`` array.
    """
    if not osp.isfile(path):
        raise AnnotationReadError(f'Annotation file not found: {path}')
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        why = _npy_truncation(path)
        hint = (f'{why}; re-extract or re-download it' if why else str(e))
        raise AnnotationReadError(f'Cannot read {path}: {hint}') from e


def load_mat(path: str) -> dict:
    """Load a MATLAB ``.mat`` file with scipy, or raise naming the file."""
    import scipy.io as sio
    if not osp.isfile(path):
        raise AnnotationReadError(f'Annotation file not found: {path}')
    try:
        return sio.loadmat(path)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise AnnotationReadError(f'Cannot read {path}: {e}') from e


def _png_bit_depth(data: bytes) -> Optional[int]:
    """Bit depth per channel from a PNG's ``IHDR`` (None if not a PNG)."""
    head = data[:26]
    if len(head) < 26 or head[:8] != b'\x89PNG\r\n\x1a\n' \
            or head[12:16] != b'IHDR':
        return None
    return head[24]


def read_index_png(path: str) -> np.ndarray:
    """Read a single-channel PNG map (labels, edges, saliency) as stored.

    The file is read with PIL, so the values are the ones the file stores
    whatever its mode: palette (``P``/``PA``) images give their palette
    indices (not the colours of the palette), grayscale images (``1``,
    ``L``, ``LA``) their 8-bit values and 16-bit grayscale images (``I;16``,
    ``I``) their 16-bit values. An ``RGB``/``RGBA`` image (8 or 16 bit; a
    16-bit one is read with cv2, which keeps its depth) is accepted only
    when its three colour channels are identical (a grayscale map saved as
    RGB); the alpha channel is ignored.

    Args:
        path (str): Path of the PNG file.

    Returns:
        np.ndarray: The ``HxW`` map, ``uint8`` for 8-bit files and
        ``uint16`` for 16-bit files.

    Raises:
        AnnotationReadError: The file is missing, empty, truncated or
            damaged (see :func:`read_image_bytes`), cannot be decoded, is a
            colour image with differing channels or has an unsupported mode.
    """
    data = read_image_bytes(path)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            mode = img.mode
            arr = np.asarray(img)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise AnnotationReadError(f'Cannot decode image file {path}: {e}') \
            from e
    if mode in ('RGB', 'RGBA', 'LA') and _png_bit_depth(data) == 16:
        # Pillow reduces 16-bit colour / gray+alpha PNGs to 8 bits; cv2
        # keeps them (as BGR(A), 3 or 4 channels).
        arr = _imdecode_unchanged(data, path)
        mode = 'RGB' if arr.ndim == 3 else 'I;16'
    if mode in ('RGB', 'RGBA'):
        rgb = arr[..., :3]
        if not ((rgb[..., 0] == rgb[..., 1]).all()
                and (rgb[..., 0] == rgb[..., 2]).all()):
            raise AnnotationReadError(
                f'{path} is a colour ({mode}) image whose channels differ, '
                'but this map must hold one value per pixel (class '
                'indices, edges or saliency). Store class indices as a '
                'grayscale (mode L) or palette (mode P) PNG; a colour-coded '
                'label image cannot be read as class indices.')
        arr = rgb[..., 0]
    elif mode in ('LA', 'PA'):
        arr = arr[..., 0]
    elif mode == '1':
        arr = arr.astype(np.uint8)
    elif mode == 'I':
        # 16-bit grayscale PNGs are opened as 32-bit 'I' by some Pillow
        # versions; their values fit in 16 bits.
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise AnnotationReadError(
                f'{path} holds values outside 0..65535 '
                f'({arr.min()}..{arr.max()})')
        arr = arr.astype(np.uint16)
    elif mode not in ('L', 'P') and not mode.startswith('I;16'):
        raise AnnotationReadError(
            f'{path} has the unsupported image mode {mode!r}; store the map '
            'as a grayscale (8 or 16 bit) or palette PNG')
    arr = np.ascontiguousarray(arr)
    if arr.ndim != 2:
        raise AnnotationReadError(f'Expected a 2-D map in {path}, got shape '
                                  f'{arr.shape}')
    if arr.dtype not in (np.uint8, np.uint16):
        arr = arr.astype(np.uint16)
    return arr


def _full_scale(arr: np.ndarray) -> float:
    """Largest value of the bit depth of an image array (255 or 65535)."""
    return 255. if arr.dtype == np.uint8 else 65535.


def _format_values(values: np.ndarray, limit: int = 10) -> str:
    """``[v1, v2, ...]`` of at most ``limit`` sorted unique values."""
    values = np.unique(values)
    shown = ', '.join(str(int(v)) for v in values[:limit])
    more = f', ... ({len(values)} values)' if len(values) > limit else ''
    return f'[{shown}{more}]'


def _classes_hint(num_classes: int) -> str:
    return (f'The data set has {num_classes} classes (`metainfo.classes` of '
            'the dataset config, e.g. `train_dataloader.dataset.metainfo`); '
            'check that the file stores class indices of these classes, or '
            'set `metainfo.classes` to the classes of the labels.')


def read_nyud_seg_png(path: str,
                      num_classes: Optional[int] = None,
                      **kwargs) -> np.ndarray:
    """NYUD-v2 labels: ``0`` void -> ``255``, ``k`` -> ``k - 1``.

    Args:
        path (str): Path of the ``segmentation/<id>.png`` file (values
            ``0..num_classes``, read by :func:`read_index_png`).
        num_classes (int, optional): Number of classes of the data set.
            Defaults to None (the 40 classes of NYUD-v2).

    Returns:
        np.ndarray: ``uint8`` labels ``0..num_classes - 1``, ``255`` void.

    Raises:
        AnnotationReadError: A stored value is above ``num_classes``.
    """
    n = NYUD_NUM_CLASSES if num_classes is None else int(num_classes)
    seg = read_index_png(path).astype(np.int64)
    bad = seg > n
    if bad.any():
        raise AnnotationReadError(
            f'NYUD label map {path} stores value(s) {_format_values(seg[bad])}'
            f' but only 0 (void) and 1..{n} (classes 0..{n - 1}) are valid. '
            + _classes_hint(n))
    out = seg - 1
    out[seg == 0] = IGNORE
    return out.astype(np.uint8)


def read_label_png(path: str,
                   num_classes: Optional[int] = None,
                   **kwargs) -> np.ndarray:
    """Labels stored as they are (``255`` ignored), e.g. PASCAL semseg.

    Args:
        path (str): Path of the PNG file (palette, grayscale or 16-bit, read
            by :func:`read_index_png`).
        num_classes (int, optional): Number of classes of the data set; a
            value ``>= num_classes`` other than ``255`` is an error.
            Defaults to None (only values above ``255`` are errors).

    Returns:
        np.ndarray: ``uint8`` labels.

    Raises:
        AnnotationReadError: A value is out of range.
    """
    seg = read_index_png(path)
    if num_classes is None:
        bad = seg > IGNORE
        if bad.any():
            raise AnnotationReadError(
                f'Label map {path} holds value(s) '
                f'{_format_values(seg[bad])} above {IGNORE}, which do not '
                f'fit the uint8 labels ({IGNORE} = ignore)')
    else:
        n = int(num_classes)
        bad = (seg >= n) & (seg != IGNORE)
        if bad.any():
            raise AnnotationReadError(
                f'Label map {path} holds value(s) {_format_values(seg[bad])}'
                f' >= num_classes={n} (valid: 0..{n - 1} and {IGNORE} = '
                'ignore). ' + _classes_hint(n))
    return seg.astype(np.uint8)


#: Depth maps already reported by :func:`_warn_empty_depth` (per process).
_EMPTY_DEPTH_REPORTED: set = set()


def _warn_empty_depth(path: str, raw: np.ndarray) -> None:
    """Warn (once per file and process) that a depth map has no valid
    pixel; the map is still used, with every pixel invalid."""
    if path in _EMPTY_DEPTH_REPORTED:
        return
    _EMPTY_DEPTH_REPORTED.add(path)
    if np.issubdtype(raw.dtype, np.floating) and np.isnan(raw).all():
        what = 'every value is NaN'
    else:
        what = 'no value is finite and > 0'
    print_log(
        f'Depth map {path} has no valid pixel ({what}): the sample is kept '
        'with every depth pixel invalid, so it adds nothing to the depth '
        'loss and metrics. Check the file if the image should have depth.',
        logger='current',
        level=logging.WARNING)


def read_depth_npy(path: str,
                   depth_scale: float = 1.0,
                   max_depth: Optional[float] = DEFAULT_MAX_DEPTH,
                   **kwargs) -> np.ndarray:
    """Depth in metres: stored values times ``depth_scale``.

    Non-finite or non-positive values become ``0`` (invalid). Integer
    arrays (e.g. ``uint16`` millimetres) are converted the same way. A map
    without any valid pixel (e.g. all NaN) is returned all ``0`` with a
    warning (mmengine's logger, once per file) naming the file.

    Args:
        path (str): Path of the ``.npy`` file.
        depth_scale (float): Metres per stored unit, e.g. ``0.001`` for
            millimetres. Defaults to 1.0 (the file stores metres).
        max_depth (float, optional): Largest plausible depth in metres; a
            larger valid depth (after scaling) is an error; ``None``
            disables the check. Defaults to :data:`DEFAULT_MAX_DEPTH`.

    Returns:
        np.ndarray: ``float32`` ``HxW`` depth in metres, ``0`` invalid.

    Raises:
        AnnotationReadError: The array is not a numeric 2-D map or its
            range is implausible for metres.
    """
    raw = np.squeeze(load_npy(path))
    if raw.ndim != 2:
        raise AnnotationReadError(f'Expected a 2-D depth map in {path}, got '
                                  f'shape {raw.shape}')
    if raw.dtype == np.bool_ or not (np.issubdtype(raw.dtype, np.integer) or
                                     np.issubdtype(raw.dtype, np.floating)):
        raise AnnotationReadError(f'Expected a numeric depth map in {path}, '
                                  f'got dtype {raw.dtype}')
    scale = float(depth_scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f'depth_scale must be a positive number, got '
                         f'{depth_scale} (reading {path})')
    with np.errstate(over='ignore', invalid='ignore'):
        depth = raw.astype(np.float64) * scale
        valid = np.isfinite(depth) & (depth > 0)
    if not valid.any():
        _warn_empty_depth(path, raw)
    elif max_depth is not None:
        limit = float(max_depth)
        largest = float(depth[valid].max())
        if largest > limit:
            raise AnnotationReadError(
                f'Depth map {path} (dtype {raw.dtype}) has a largest depth '
                f'of {largest:g} m with depth_scale={scale:g}, above the '
                f'plausible maximum max_depth={limit:g} m, so it is not in '
                'metres. If the file stores millimetres set '
                'depth_scale=0.001 (dataset config key '
                '`train_dataloader.dataset.depth_scale` / '
                '`val_dataloader.dataset.depth_scale`); for other units set '
                '`depth_scale` to metres per stored unit. If the scene '
                'really is that deep, raise `max_depth`.')
    return np.where(valid, depth, 0.).astype(np.float32)


def normalize_normals(normals: np.ndarray,
                      min_norm: float = 0.5) -> np.ndarray:
    """Scale vectors to unit length; vectors shorter than ``min_norm``
    (including the all-zero invalid marker) become zero."""
    normals = normals.astype(np.float32)
    norm = np.linalg.norm(normals, axis=-1, keepdims=True)
    valid = norm > min_norm
    return np.where(valid, normals / np.maximum(norm, 1e-12),
                    0.).astype(np.float32)


def _apply_signs(normals: np.ndarray,
                 signs: Optional[Sequence[float]]) -> np.ndarray:
    if signs is not None:
        normals = normals * np.asarray(signs, dtype=np.float32)
    return normals


def decode_normals_png(img: np.ndarray) -> np.ndarray:
    """BGR image (as cv2 reads it) -> float normals in RGB order.

    Args:
        img (np.ndarray): ``HxWx3`` ``uint8`` or ``uint16`` image storing
            ``(n + 1) * M / 2`` with ``M`` the largest value of its bit
            depth (255 or 65535).

    Returns:
        np.ndarray: ``float32`` ``2 * rgb / M - 1``, not re-normalized.

    Raises:
        ValueError: The image is neither 8 nor 16 bit.
    """
    if img.dtype not in (np.uint8, np.uint16):
        raise ValueError('Normals images must be 8 or 16 bit, got dtype '
                         f'{img.dtype}')
    rgb = img[..., 2::-1].astype(np.float32)
    return (2. * rgb / _full_scale(img) - 1.).astype(np.float32)


def read_normals_png(path: str,
                     normal_signs: Optional[Sequence[float]] = None,
                     **kwargs) -> np.ndarray:
    """Normals from ``rgb = (n + 1) * M / 2`` PNGs, 8 or 16 bit (see the
    module doc)."""
    img = imread_unchanged(path)
    if img.ndim != 3 or img.shape[2] < 3:
        raise AnnotationReadError(f'Expected an RGB normals image in {path}, '
                                  f'got shape {img.shape}')
    if img.dtype not in (np.uint8, np.uint16):
        raise AnnotationReadError(f'Expected an 8 or 16 bit normals image in '
                                  f'{path}, got dtype {img.dtype}')
    normals = decode_normals_png(img[..., :3])
    return normalize_normals(_apply_signs(normals, normal_signs))


def read_normals_npy(path: str,
                     normal_signs: Optional[Sequence[float]] = None,
                     **kwargs) -> np.ndarray:
    """Normals stored as float ``HxWx3`` arrays in ``[-1, 1]``."""
    normals = load_npy(path).astype(np.float32)
    if normals.ndim != 3 or normals.shape[2] != 3:
        raise AnnotationReadError(f'Expected an HxWx3 normals array in '
                                  f'{path}, got shape {normals.shape}')
    normals[~np.isfinite(normals)] = 0.
    return normalize_normals(_apply_signs(normals, normal_signs))


def read_edge_png(path: str, **kwargs) -> np.ndarray:
    """Boundary PNG (``0/M`` or ``0/1``, ``M`` = 255 or 65535) -> ``uint8``
    0/1."""
    edge = read_index_png(path)
    thr = 0.5 if edge.max() <= 1 else _full_scale(edge) / 2.
    return (edge >= thr).astype(np.uint8)


def read_edge_npy(path: str, **kwargs) -> np.ndarray:
    """Boundary ``.npy`` float map -> ``uint8`` 0/1."""
    edge = np.squeeze(load_npy(path))
    if edge.ndim != 2:
        raise AnnotationReadError(f'Expected a 2-D edge map in {path}, got '
                                  f'shape {edge.shape}')
    return (edge >= 0.5).astype(np.uint8)


def read_saliency_png(path: str, **kwargs) -> np.ndarray:
    """Distilled saliency: foreground where ``png / M > 0.5`` (``M`` = 255
    for 8-bit, 65535 for 16-bit files)."""
    sal = read_index_png(path)
    return (sal.astype(np.float32) / _full_scale(sal) > 0.5).astype(np.uint8)


def read_pascal_label_map(path: str) -> np.ndarray:
    """The 459-class ``LabelMap`` of ``pascal-context/trainval/<id>.mat``."""
    mat = load_mat(path)
    if 'LabelMap' not in mat:
        raise AnnotationReadError(f'{path} has no `LabelMap` variable '
                                  f'(found {sorted(k for k in mat if not k.startswith("__"))})')
    return np.asarray(mat['LabelMap'])


def read_pascal_edge_mat(path: str, boundaries: str = 'laplacian',
                         **kwargs) -> np.ndarray:
    """Boundaries of the ``LabelMap``.

    ``'laplacian'``: as the protocol's training loaders compute them, pixels
    where the Laplacian of the label map is non-zero, thinned to one pixel
    width with the ``bwmorph``-style thinning of ``skimage.morphology.thin``
    (:func:`mmmtcp.functional.thinning.thin`, the thinning the boundary metric
    applies to predictions). ``'seg2bmap'``: as the SEISM benchmark draws
    the ground truth it evaluates against,
    ``thin(seg2bmap(relabel(LabelMap)))``.

    Args:
        path (str): ``pascal-context/trainval/<id>.mat``.
        boundaries (str): ``'laplacian'`` or ``'seg2bmap'``.

    Returns:
        np.ndarray: ``H x W`` uint8 map, 1 on boundaries.
    """
    label_map = read_pascal_label_map(path)
    if boundaries == 'seg2bmap':
        return thin(seg2bmap(relabel_regions(label_map))).astype(np.uint8)
    if boundaries != 'laplacian':
        raise ValueError(f"boundaries must be 'laplacian' or 'seg2bmap', "
                         f'got {boundaries!r} (reading {path})')
    lap = cv2.Laplacian(label_map.astype(np.float64), cv2.CV_64F)
    return thin(np.abs(lap) > 0).astype(np.uint8)


def read_pascal_normals_png(path: str,
                            label_map_path: Optional[str] = None,
                            normal_signs: Optional[Sequence[float]] = None,
                            **kwargs) -> np.ndarray:
    """Distilled normals, valid only on NYUD-like classes of the LabelMap."""
    normals = read_normals_png(path, normal_signs=normal_signs)
    if label_map_path is None:
        raise AnnotationReadError(
            f'PASCAL normals {path} need the LabelMap file for validity')
    labels = read_pascal_label_map(label_map_path)
    if labels.shape != normals.shape[:2]:
        raise AnnotationReadError(
            f'LabelMap {label_map_path} has shape {labels.shape} but '
            f'normals {path} have shape {normals.shape[:2]}')
    valid = np.isin(labels, PASCAL_NORMALS_VALID_CLASSES)
    normals[~valid] = 0.
    return normals


def _field(struct: np.ndarray, name: str, index: int):
    """Field of a scipy-loaded MATLAB struct by name (or position)."""
    if struct.dtype.names is not None and name in struct.dtype.names:
        return struct[name]
    return struct[index]


def parse_human_parts_objects(mat: dict, path: str = '') -> list:
    """Objects of a Pascal-Part ``anno`` struct as a list of dicts with
    ``class_ind``, ``mask`` and ``parts`` (list of ``(name, mask)``)."""
    if 'anno' not in mat:
        raise AnnotationReadError(f'{path} has no `anno` struct')
    anno = mat['anno'][0, 0]
    objects = _field(anno, 'objects', 1)
    objects = np.asarray(objects).reshape(-1)
    out = []
    for obj in objects:
        class_ind = int(np.asarray(_field(obj, 'class_ind', 1)).reshape(-1)[0])
        mask = np.asarray(_field(obj, 'mask', 2))
        parts_arr = np.asarray(_field(obj, 'parts', 3)).reshape(-1)
        parts = []
        if parts_arr.dtype.names is not None or parts_arr.dtype == object:
            for part in parts_arr:
                if part is None or (isinstance(part, np.ndarray)
                                    and part.size == 0):
                    continue
                name = np.asarray(_field(part, 'part_name', 0)).reshape(-1)
                pmask = np.asarray(_field(part, 'mask', 1))
                parts.append((str(name[0]), pmask))
        out.append(dict(class_ind=class_ind, mask=mask, parts=parts))
    return out


def read_human_parts_mat(path: str,
                         has_human_parts: Optional[bool] = None,
                         img_shape: Optional[Sequence[int]] = None,
                         **kwargs) -> np.ndarray:
    """Human parts (0 background, 1..6 groups) from a Pascal-Part ``.mat``.

    Images without a person carrying part annotations (or whose parts map
    is all background) are all ``255`` (ignored), as in the MTL-PyTorch
    protocol. When ``has_human_parts`` is ``False`` (from the data set's
    cache) and ``img_shape`` is known, the file is not read.
    """
    if has_human_parts is False and img_shape is not None:
        return np.full(tuple(img_shape[:2]), IGNORE, dtype=np.uint8)
    objects = parse_human_parts_objects(load_mat(path), path)
    target = None
    for obj in objects:
        if obj['class_ind'] != PERSON_CLASS_IND or not obj['parts']:
            continue
        if target is None:
            target = np.zeros(obj['mask'].shape, dtype=np.uint8)
        for name, pmask in obj['parts']:
            if name not in HUMAN_PART_GROUPS:
                raise AnnotationReadError(
                    f'Unknown person part name {name!r} in {path}')
            target[pmask.astype(bool)] = HUMAN_PART_GROUPS[name]
    if target is None:
        if img_shape is None:
            shape = objects[0]['mask'].shape if objects else None
            if shape is None:
                raise AnnotationReadError(
                    f'{path} has no objects and the image size is unknown')
        else:
            shape = tuple(img_shape[:2])
        return np.full(shape, IGNORE, dtype=np.uint8)
    if not target.any():
        target[:] = IGNORE
    return target


def person_part_summary(path: str) -> list:
    """Class ids of the objects in a Pascal-Part file, with ``-1`` for
    persons without parts (the per-image entry of the parts cache)."""
    objects = parse_human_parts_objects(load_mat(path), path)
    return [
        o['class_ind'] if (o['class_ind'] != PERSON_CLASS_IND or o['parts'])
        else -1 for o in objects
    ]


ANNOTATION_READERS: Dict[str, Callable[..., np.ndarray]] = {
    'nyud_seg_png': read_nyud_seg_png,
    'label_png': read_label_png,
    'depth_npy': read_depth_npy,
    'normals_png': read_normals_png,
    'normals_npy': read_normals_npy,
    'edge_png': read_edge_png,
    'edge_npy': read_edge_npy,
    'saliency_png': read_saliency_png,
    'pascal_edge_mat': read_pascal_edge_mat,
    'pascal_normals_png': read_pascal_normals_png,
    'human_parts_mat': read_human_parts_mat,
}
