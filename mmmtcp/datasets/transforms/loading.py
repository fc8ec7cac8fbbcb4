"""Loading of the images and dense ground-truth maps of multi-task dense
prediction."""
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmengine import fileio
from mmseg.registry import TRANSFORMS

from mmmtcp.functional.formats import ANNOTATION_READERS
from mmmtcp.functional.geometry import scale_intrinsics
from mmmtcp.functional.image_check import DamagedImageError, check_image_bytes
from mmmtcp.tasks.task_spec import check_tasks, get_task


@TRANSFORMS.register_module()
class LoadCheckedImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that refuses damaged image files.

    The file's bytes are read once, checked by
    :func:`mmmtcp.functional.image_check.check_image_bytes` and decoded from
    the same buffer. An empty file, a truncated or damaged JPEG or PNG
    (which OpenCV would decode with flat gray rows, or fail on without
    naming the file) and content that is neither JPEG nor PNG raise
    :class:`~mmmtcp.functional.image_check.DamagedImageError` (a
    ``ValueError``) naming the file; so does a file that passes the check
    but cannot be decoded. With ``ignore_empty=True`` the transform returns
    ``None`` instead, as mmcv's transform does for unreadable files (the
    data set then draws another sample during training).

    Required Keys:

    - img_path

    Modified Keys:

    - img
    - img_shape
    - ori_shape

    Args:
        to_float32 (bool): Convert the image to ``float32``. Defaults to
            False (``uint8``).
        color_type (str): The ``flag`` of :func:`mmcv.imfrombytes`.
            Defaults to 'color'.
        imdecode_backend (str): The decoding backend of
            :func:`mmcv.imfrombytes`. Defaults to 'cv2'.
        file_client_args (dict, optional): Deprecated by mmcv; use
            ``backend_args``. Defaults to None.
        ignore_empty (bool): Return ``None`` for a missing, empty or
            damaged file instead of raising. Defaults to False.
        backend_args (dict, optional): Arguments of the file backend of
            :func:`mmengine.fileio.get`. Defaults to None.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Read, check and decode ``results['img_path']``.

        Args:
            results (dict): Result dict with ``img_path``.

        Returns:
            dict | None: The results with the image, or ``None`` for a
            missing or damaged file when ``ignore_empty`` is True.
        """
        filename = results['img_path']
        try:
            if self.file_client_args is not None:
                file_client = fileio.FileClient.infer_client(
                    self.file_client_args, filename)
                img_bytes = file_client.get(filename)
            else:
                img_bytes = fileio.get(
                    filename, backend_args=self.backend_args)
            check_image_bytes(img_bytes, str(filename))
            try:
                img = mmcv.imfrombytes(
                    img_bytes,
                    flag=self.color_type,
                    backend=self.imdecode_backend)
            except Exception as e:  # noqa: BLE001 - re-raised with the name
                raise DamagedImageError(
                    f'Cannot decode the image file {filename}: {e}') from e
            if img is None:
                raise DamagedImageError(
                    f'Cannot decode the image file {filename}: it is '
                    'complete but its content is damaged or uses an '
                    'encoding the decoder does not support.')
        except Exception:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
    """Load the ground-truth map of every task listed by the data set.

    Reads ``results['ann_info'][task]`` (``dict(path=..., format=...)`` as
    recorded by :class:`NYUDv2Dataset` / :class:`PascalContextMTDataset`)
    with the reader of its format, stores the map under the task's
    ``gt_key`` (see :data:`mmmtcp.utils.TASKS`) and appends that key to
    ``results['seg_fields']``. Use it after :class:`LoadCheckedImageFromFile`
    (or mmcv's ``LoadImageFromFile``): every map must have the original
    image's size (``ori_shape``). A test pipeline may
    resize the image *before* this transform; the maps then stay at the
    original size, which is where predictions are evaluated (as mmseg's
    test pipelines do with ``Resize`` before ``LoadAnnotations``). When the
    sample carries ``camera_intrinsics`` they are rescaled to the original
    image size with :func:`mmmtcp.functional.geometry.scale_intrinsics`
    (the data set's intrinsics to its images; after a test-time resize this undoes
    that resize exactly), so they describe the grid the maps and the
    restored predictions share.

    Required Keys: ``ann_info``, ``img`` (or ``ori_shape``), ``tasks``.

    Added Keys: ``gt_seg_map``, ``gt_depth_map``, ``gt_normal_map``,
    ``gt_edge_map``, ``gt_human_parts``, ``gt_saliency_map`` (those of the
    loaded tasks), ``seg_fields``.

    Args:
        tasks (Sequence[str], optional): Load only these tasks (they must be
            in the sample's ``ann_info``). Defaults to every task of the
            sample.
    """

    def __init__(self, tasks: Optional[Sequence[str]] = None) -> None:
        self.tasks = None if tasks is None else check_tasks(tasks, 'tasks')

    def transform(self, results: dict) -> dict:
        ann_info = results.get('ann_info')
        if ann_info is None:
            raise KeyError('LoadMultiTaskAnnotations needs `ann_info` in the '
                           'results; use a multi-task data set')
        tasks = self.tasks if self.tasks is not None else results.get(
            'tasks', list(ann_info))
        # Maps are stored at the size of the original image, also when a
        # test pipeline resized the image before loading them (the
        # predictions are resized back to ``ori_shape``).
        if results.get('ori_shape') is not None:
            img_shape = results['ori_shape']
        elif 'img' in results:
            img_shape = results['img'].shape[:2]
        else:
            img_shape = None
        seg_fields = results.setdefault('seg_fields', [])
        for task in tasks:
            spec = get_task(task)
            if task not in ann_info:
                raise KeyError(
                    f'Task {task!r} was requested but sample '
                    f'{results.get("img_path")} has annotations only for '
                    f'{sorted(ann_info)}')
            info = dict(ann_info[task])
            path, fmt = info.pop('path'), info.pop('format')
            if fmt == 'task_kind':
                # a config-declared task: its kind reads the file
                info.pop('task', None)
                gt = spec.kind_impl.read(path, **info)
            elif fmt in ANNOTATION_READERS:
                gt = ANNOTATION_READERS[fmt](path, img_shape=img_shape,
                                             **info)
            else:
                raise KeyError(
                    f'Unknown annotation format {fmt!r} for {path}; known: '
                    f"{sorted(ANNOTATION_READERS)} and 'task_kind'")
            if img_shape is not None and tuple(gt.shape[:2]) != tuple(
                    img_shape[:2]):
                raise ValueError(
                    f'{task} map {path} has size {tuple(gt.shape[:2])} but '
                    f'its image {results.get("img_path")} has size '
                    f'{tuple(img_shape[:2])}')
            results[spec.gt_key] = gt
            if spec.gt_key not in seg_fields:
                seg_fields.append(spec.gt_key)
        intr = results.get('camera_intrinsics')
        if intr is not None and img_shape is not None:
            h, w = img_shape[:2]
            results['camera_intrinsics'] = scale_intrinsics(intr, w, h)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(tasks={self.tasks})'
