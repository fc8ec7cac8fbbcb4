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

from mmmtcp.utils import get_task
from .dense import nonfinite_labels


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
    component, probability 0) in the other PNGs; depth keeps them.

    Args:
        out_dir (str): Output root.
        stem (str): File name without extension (usually the image's).
        task (str): Task name.
        pred (np.ndarray): ``H x W`` map, or ``H x W x 3`` for normals.

    Returns:
        str: The written path.
    """
    kind = get_task(task).kind
    if kind == 'depth':
        path = osp.join(out_dir, task, stem + '.npy')
        mkdir_or_exist(osp.dirname(path))
        np.save(path, np.asarray(pred, dtype=np.float32))
        return path
    pred = np.asarray(pred)
    if kind == 'label':
        bad = nonfinite_labels(pred)
        pred = np.where(bad, 255, pred)
        if pred.size and (pred.min() < 0 or pred.max() > 255):
            raise ValueError(f'{task} labels outside 0..255 cannot be '
                             'written as a uint8 PNG')
        img = pred.astype(np.uint8)
    else:
        pred = np.where(np.isfinite(pred), pred, 0.0)
        if kind == 'normal':
            rgb = np.clip((pred + 1.0) * 255.0 / 2.0, 0, 255)
            img = np.round(rgb).astype(np.uint8)[..., ::-1]  # BGR, OpenCV
        else:
            img = np.round(np.clip(pred, 0, 1) * 255).astype(np.uint8)
    path = osp.join(out_dir, task, stem + '.png')
    mmcv.imwrite(img, path)
    return path
