"""Loading of the dense ground-truth maps of multi-task dense prediction."""
from typing import Optional, Sequence

from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from mmmtcp.tasks.task_spec import check_tasks, get_task
from mmmtcp.utils.geometry import scale_intrinsics
from ..formats import ANNOTATION_READERS


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
    """Load the ground-truth map of every task listed by the data set.

    Reads ``results['ann_info'][task]`` (``dict(path=..., format=...)`` as
    recorded by :class:`NYUDv2Dataset` / :class:`PascalContextMTDataset`)
    with the reader of its format, stores the map under the task's
    ``gt_key`` (see :data:`mmmtcp.utils.TASKS`) and appends that key to
    ``results['seg_fields']``. Use it after ``LoadImageFromFile``: every map
    must have the original image's size (``ori_shape``). A test pipeline may
    resize the image *before* this transform; the maps then stay at the
    original size, which is where predictions are evaluated (as mmseg's
    test pipelines do with ``Resize`` before ``LoadAnnotations``). When the
    sample carries ``camera_intrinsics`` they are rescaled to the original
    image size with :func:`mmmtcp.utils.geometry.scale_intrinsics` (the data
    set's intrinsics to its images; after a test-time resize this undoes
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
