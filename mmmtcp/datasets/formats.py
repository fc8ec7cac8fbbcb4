"""Readers of the annotation file formats of the multi-task data sets.

Each reader turns one file into a map in the conventions of
:mod:`mmmtcp.utils.tasks` (labels ``uint8`` with ``255`` ignored, depth
``float32`` metres with ``0`` invalid, normals ``float32 HxWx3`` unit vectors
with all-zero invalid). The data sets record, per sample and task, a path and
the name of its format; :class:`LoadMultiTaskAnnotations` looks the reader up
in :data:`ANNOTATION_READERS`.

Formats of the NYUD-v2 releases (checked against the loaders of the
MTL-PyTorch and ATRC/InvPT code bases):

- ``nyud_seg_png``: ``segmentation/<id>.png`` holds ``0..40`` with ``0`` the
  void/unlabelled class; the loaders compute ``png - 1`` and map ``-1`` to
  ``255``, giving the 40 classes ``0..39``.
- ``depth_npy``: ``depth/<id>.npy`` float metres; ``<= 0`` or non-finite is
  invalid.
- ``normals_png``: ``normals/<id>.png`` with ``rgb = (n + 1) * 255 / 2``,
  decoded as ``2 * png / 255 - 1`` in RGB channel order.
- ``normals_npy``: MTL-PyTorch ``normals/<id>.npy`` float ``HxWx3`` in
  ``[-1, 1]``.
- ``edge_png``: ATRC/InvPT ``edge/<id>.png``, decoded as ``png / 255``; a
  pixel is a boundary when that is ``>= 0.5`` (files holding ``0/1`` instead
  of ``0/255`` are recognised by their maximum).
- ``edge_npy``: MTL-PyTorch ``edge/<id>.npy`` float ``0/1``.

Formats of PASCAL-Context (as the ATRC/InvPT and MTL-PyTorch loaders read
them) are described in :class:`PascalContextMTDataset`.
"""
import os.path as osp
from typing import Callable, Dict, Optional, Sequence

import cv2
import numpy as np

IGNORE = 255

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


def imread_unchanged(path: str) -> np.ndarray:
    """Read an image file as stored (no colour conversion), or raise."""
    if not osp.isfile(path):
        raise AnnotationReadError(f'Annotation file not found: {path}')
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AnnotationReadError(f'Cannot decode image file: {path}')
    return img


def load_npy(path: str) -> np.ndarray:
    """Load a ``.npy`` array, or raise naming the file."""
    if not osp.isfile(path):
        raise AnnotationReadError(f'Annotation file not found: {path}')
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise AnnotationReadError(f'Cannot read {path}: {e}') from e


def load_mat(path: str) -> dict:
    """Load a MATLAB ``.mat`` file with scipy, or raise naming the file."""
    import scipy.io as sio
    if not osp.isfile(path):
        raise AnnotationReadError(f'Annotation file not found: {path}')
    try:
        return sio.loadmat(path)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise AnnotationReadError(f'Cannot read {path}: {e}') from e


def _gray(img: np.ndarray, path: str) -> np.ndarray:
    if img.ndim == 3:
        # single-channel content saved as RGB(A): take the first channel
        img = img[..., 0]
    if img.ndim != 2:
        raise AnnotationReadError(f'Expected a 2-D map in {path}, got shape '
                                  f'{img.shape}')
    return img


def read_nyud_seg_png(path: str, **kwargs) -> np.ndarray:
    """NYUD-v2 40-class labels: ``0`` void -> ``255``, ``k`` -> ``k - 1``."""
    seg = _gray(imread_unchanged(path), path).astype(np.int32)
    out = seg - 1
    out[(seg == 0) | (seg > 40)] = IGNORE
    return out.astype(np.uint8)


def read_label_png(path: str, **kwargs) -> np.ndarray:
    """Labels stored as they are (``255`` ignored), e.g. PASCAL semseg."""
    seg = _gray(imread_unchanged(path), path)
    return seg.astype(np.uint8)


def read_depth_npy(path: str, **kwargs) -> np.ndarray:
    """Depth in metres; non-finite or non-positive values become ``0``."""
    depth = np.squeeze(load_npy(path)).astype(np.float32)
    if depth.ndim != 2:
        raise AnnotationReadError(f'Expected a 2-D depth map in {path}, got '
                                  f'shape {depth.shape}')
    depth[~np.isfinite(depth) | (depth < 0)] = 0.
    return depth


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
    """``uint8`` BGR image (as cv2 reads it) -> float normals, RGB order."""
    rgb = img[..., 2::-1].astype(np.float32)
    return 2. * rgb / 255. - 1.


def read_normals_png(path: str,
                     normal_signs: Optional[Sequence[float]] = None,
                     **kwargs) -> np.ndarray:
    """Normals from ``rgb = (n + 1) * 255 / 2`` PNGs (see module doc)."""
    img = imread_unchanged(path)
    if img.ndim != 3 or img.shape[2] < 3:
        raise AnnotationReadError(f'Expected an RGB normals image in {path}, '
                                  f'got shape {img.shape}')
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
    """Boundary PNG (``0/255`` or ``0/1``) -> ``uint8`` 0/1."""
    edge = _gray(imread_unchanged(path), path)
    thr = 0.5 if edge.max() <= 1 else 127.5
    return (edge >= thr).astype(np.uint8)


def read_edge_npy(path: str, **kwargs) -> np.ndarray:
    """Boundary ``.npy`` float map -> ``uint8`` 0/1."""
    edge = np.squeeze(load_npy(path))
    if edge.ndim != 2:
        raise AnnotationReadError(f'Expected a 2-D edge map in {path}, got '
                                  f'shape {edge.shape}')
    return (edge >= 0.5).astype(np.uint8)


def read_saliency_png(path: str, **kwargs) -> np.ndarray:
    """Distilled saliency: foreground where ``png / 255 > 0.5``."""
    sal = _gray(imread_unchanged(path), path).astype(np.float32)
    return (sal / 255. > 0.5).astype(np.uint8)


def read_pascal_label_map(path: str) -> np.ndarray:
    """The 459-class ``LabelMap`` of ``pascal-context/trainval/<id>.mat``."""
    mat = load_mat(path)
    if 'LabelMap' not in mat:
        raise AnnotationReadError(f'{path} has no `LabelMap` variable '
                                  f'(found {sorted(k for k in mat if not k.startswith("__"))})')
    return np.asarray(mat['LabelMap'])


def thin_binary(mask: np.ndarray) -> np.ndarray:
    """Thin a binary mask to 1-pixel wide curves.

    Uses ``cv2.ximgproc.thinning`` (Zhang-Suen) when opencv-contrib is
    installed, else an equivalent vectorized numpy Zhang-Suen iteration.
    """
    mask = (mask > 0).astype(np.uint8)
    ximgproc = getattr(cv2, 'ximgproc', None)
    if ximgproc is not None:
        return (ximgproc.thinning(mask * 255) > 0).astype(np.uint8)
    return zhang_suen_thinning(mask)


def zhang_suen_thinning(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning (1984) of a binary ``uint8`` mask, numpy only."""
    img = np.pad((mask > 0).astype(np.uint8), 1)
    while True:
        changed = False
        for step in range(2):
            p = img
            p2, p3 = p[:-2, 1:-1], p[:-2, 2:]
            p4, p5 = p[1:-1, 2:], p[2:, 2:]
            p6, p7 = p[2:, 1:-1], p[2:, :-2]
            p8, p9 = p[1:-1, :-2], p[:-2, :-2]
            nbrs = [p2, p3, p4, p5, p6, p7, p8, p9]
            b = sum(n.astype(np.int32) for n in nbrs)
            seq = nbrs + [p2]
            a = sum(((seq[i] == 0) & (seq[i + 1] == 1)).astype(np.int32)
                    for i in range(8))
            if step == 0:
                c1 = (p2 * p4 * p6) == 0
                c2 = (p4 * p6 * p8) == 0
            else:
                c1 = (p2 * p4 * p8) == 0
                c2 = (p2 * p6 * p8) == 0
            remove = ((p[1:-1, 1:-1] == 1) & (b >= 2) & (b <= 6) & (a == 1)
                      & c1 & c2)
            if remove.any():
                img = img.copy()
                img[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1]


def read_pascal_edge_mat(path: str, **kwargs) -> np.ndarray:
    """Boundaries of the ``LabelMap``: Laplacian != 0, thinned to 1 px."""
    label_map = read_pascal_label_map(path).astype(np.float64)
    lap = cv2.Laplacian(label_map, cv2.CV_64F)
    return thin_binary(np.abs(lap) > 0)


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
