"""Reading one indexed sample as training will, and checking its values.

:func:`check_sample` loads the image and every task map of one sample with
the training pipeline's reader (which checks the value range of each
format and the size against the image) and runs the data set's value
checks on them. :func:`check_sample_job` is the same for a process pool.
"""
import os.path as osp
from typing import Dict, Tuple

import numpy as np
import repo_checkout  # noqa: F401 - this checkout's mmmtcp first
from value_checks import ValueCheck

from mmmtcp.functional.formats import AnnotationReadError, read_image_bytes


def _check_task(img_path: str, shape: Tuple[int, int], task: str, ann: dict,
                value_checks: Dict[str, ValueCheck], out: dict) -> None:
    """Load one task's map of a sample and run its value check.

    Problems and warnings are appended to ``out`` as ``(task, path,
    message)``; a task whose files do not exist is skipped.
    """
    from mmmtcp.datasets.transforms import LoadMultiTaskAnnotations
    from mmmtcp.tasks import get_task

    ann = dict(ann)
    paths = [ann['path']] + ([ann['label_map_path']]
                             if ann.get('label_map_path') else [])
    if not all(osp.isfile(p) for p in paths):
        return  # reported as missing by the indexing
    ann.pop('has_human_parts', None)
    results = dict(
        img_path=img_path, ori_shape=shape, tasks=[task],
        ann_info={task: ann}, seg_fields=[])
    try:
        LoadMultiTaskAnnotations(tasks=[task]).transform(results)
        gt = results[get_task(task).gt_key]
    except Exception as e:  # noqa: BLE001 - reported with the file
        out['problems'].append((task, ann['path'], str(e)))
        return
    check = value_checks.get(task)
    if check is None:
        return
    try:
        problems, warnings = check(ann, gt)
    except Exception as e:  # noqa: BLE001 - reported with the file
        problems, warnings = [f'{type(e).__name__}: {e}'], []
    out['problems'] += [(task, ann['path'], m) for m in problems]
    out['warnings'] += [(task, ann['path'], m) for m in warnings]


def check_sample(info: dict, value_checks: Dict[str, ValueCheck]) -> dict:
    """Read the image and every map of one indexed sample.

    Each task is loaded on its own with
    :class:`~mmmtcp.datasets.LoadMultiTaskAnnotations` (the training
    pipeline's reader, which checks the value range of its format and the
    size against the image), then ``value_checks[task]`` looks at the file
    further. Files that do not exist were reported by the indexing and are
    skipped. Human parts are read even where the data set's cache says the
    image has no person, to check the file is readable.

    Args:
        info (dict): A data info of the data set (``img_path``,
            ``ann_info``, ``sample_id``).
        value_checks (Dict[str, ValueCheck]): Extra checks per task.

    Returns:
        dict: ``sample_id``, ``shape`` (image ``(h, w)`` or None),
        ``problems`` and ``warnings`` (lists of ``(column, path,
        message)``).
    """
    import cv2

    out = dict(
        sample_id=info.get('sample_id'), shape=None, problems=[],
        warnings=[])
    img_path = info['img_path']
    if not osp.isfile(img_path):
        return out
    try:
        data = read_image_bytes(img_path)
    except AnnotationReadError as e:
        out['problems'].append(('image', img_path, str(e)))
        return out
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        out['problems'].append(
            ('image', img_path, 'cannot be decoded as an image'))
        return out
    shape = tuple(img.shape[:2])
    out['shape'] = shape
    for task, ann in info['ann_info'].items():
        _check_task(img_path, shape, task, ann, value_checks, out)
    return out


def check_sample_job(job: Tuple[dict, Dict[str, ValueCheck]]) -> dict:
    """:func:`check_sample` of ``(info, value_checks)``, for ``pool.map``.

    Args:
        job (tuple[dict, dict]): The arguments of :func:`check_sample`.

    Returns:
        dict: What :func:`check_sample` returns.
    """
    return check_sample(*job)
