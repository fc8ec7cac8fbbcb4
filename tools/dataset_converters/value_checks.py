"""Value checks: what a loaded map must hold beyond what its reader checks.

A value check looks at one task's file of one sample after the data set's
reader loaded it (:data:`ValueCheck`) and returns problems, which fail the
check of the folder, and warnings, which are only reported
(:data:`CheckMessages`). The checks particular to one data set live in its
converter; :func:`check_normals_file` is shared by both.
"""
from typing import Callable, List, Tuple

import numpy as np

#: Messages of a value check: (problems, warnings).
CheckMessages = Tuple[List[str], List[str]]
#: A value check of one task: ``(ann_info of the task, loaded map)`` ->
#: messages. Problems fail the check, warnings are only reported.
ValueCheck = Callable[[dict, np.ndarray], CheckMessages]


def check_normals_file(ann: dict, gt: np.ndarray) -> CheckMessages:
    """Value check of a normals map: the stored vectors are unit vectors.

    The file is decoded as the reader does (``2 * png / M - 1`` for PNGs,
    the float vectors of ``.npy`` files) but before re-normalization. Among
    the vectors the reader keeps (length > 0.5; shorter ones, e.g. the
    ``(128, 128, 128)`` of an invalid pixel, are invalid), more than 5%
    whose length is off by more than 0.1 is a problem (wrong encoding,
    e.g. black pixels ``(0, 0, 0)`` decode to ``(-1, -1, -1)``), more than
    0.5% a warning.

    Args:
        ann (dict): The task's ``ann_info`` (``path``).
        gt (np.ndarray): The loaded map (unused).

    Returns:
        tuple[list[str], list[str]]: Problems and warnings.
    """
    from mmmtcp.functional.formats import (decode_normals_png,
                                           imread_unchanged, load_npy)
    path = ann['path']
    if path.endswith('.npy'):
        raw = load_npy(path).astype(np.float32)
        raw[~np.isfinite(raw)] = 0.
    else:
        raw = decode_normals_png(imread_unchanged(path)[..., :3])
    norm = np.linalg.norm(raw, axis=-1)
    valid = norm > 0.5
    if not valid.any():
        return [], ['holds no valid normal (every vector is shorter than '
                    '0.5, which the loader treats as invalid)']
    off = valid & (np.abs(norm - 1.) > 0.1)
    frac = float(off.sum()) / float(valid.sum())
    if frac <= 0.005:
        return [], []
    msg = (f'{frac:.1%} of the valid normals decode to vectors of length '
           f'{norm[off].min():.2f}..{norm[off].max():.2f} instead of 1; '
           'expected rgb = (n + 1) * 255 / 2 (8-bit PNG) or unit float '
           'vectors (.npy)')
    return ([msg], []) if frac > 0.05 else ([], [msg])
