"""Reading and writing the maps of a data sample.

mmengine's ``Evaluator`` hands metrics ``data_sample.to_dict()`` while hooks
and visualizers get :class:`SegDataSample` objects; these helpers read both.
"""
import os.path as osp
from typing import Any, Mapping, Optional, Union

import mmcv
import numpy as np
import torch
from mmengine.utils import mkdir_or_exist

from mmmtcp.tasks import get_task


def get_pixel_data(sample: Union[Mapping, Any],
                   field: str) -> Optional[np.ndarray]:
    """Return ``sample.<field>.data`` as a numpy array, or None if absent.

    Args:
        sample (SegDataSample | dict): The data sample.
        field (str): Field name, e.g. ``'pred_depth_map'``.

    Returns:
        np.ndarray | None: The data (``C x H x W`` as stored).
    """
    if isinstance(sample, Mapping):
        item = sample.get(field)
    else:
        item = getattr(sample, field, None)
    if item is None:
        return None
    if isinstance(item, Mapping):
        item = item.get('data')
    elif hasattr(item, 'data'):
        item = item.data
    if item is None:
        return None
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    return np.asarray(item)


def get_metainfo(sample: Union[Mapping, Any], key: str, default=None):
    """Return a metainfo value of a data sample (or dict), or ``default``."""
    if isinstance(sample, Mapping):
        return sample.get(key, default)
    return sample.metainfo.get(key, default)


def write_prediction(out_dir: str, stem: str, task: str,
                     pred: np.ndarray) -> str:
    """Write one prediction in the community file format of its task.

    Labels (semseg, human_parts) as uint8 PNG ids, depth as float32 ``.npy``
    (metres), normals as PNG with RGB = ``(n + 1) * 255 / 2``, edge and
    saliency probabilities as uint8 PNG ``round(p * 255)``; the file is
    ``<out_dir>/<task>/<stem>.<ext>``. Non-finite predictions, which a PNG
    cannot hold, are written as 255 (the ignore id) in label maps
    (:data:`NONFINITE_LABEL` or NaN / inf) and as 0 (the zero normal
    component, probability 0) in the other PNGs; depth keeps them. The
    format is the task kind's ``write`` (other kinds: float32 ``.npy``).

    Args:
        out_dir (str): Output root.
        stem (str): File name without extension (usually the image's).
        task (str): Task name.
        pred (np.ndarray): ``H x W`` map, or ``H x W x 3`` for normals.

    Returns:
        str: The written path.
    """
    ext, content = get_task(task).kind_impl.write(np.asarray(pred))
    path = osp.join(out_dir, task, stem + ext)
    mkdir_or_exist(osp.dirname(path))
    if ext == '.npy':
        np.save(path, content)
    else:
        mmcv.imwrite(content, path)
    return path
