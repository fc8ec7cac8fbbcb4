"""Packing of multi-task inputs into :class:`SegDataSample`."""
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform, to_tensor
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

from mmmtcp.tasks.task_spec import TASKS

DEFAULT_META_KEYS = ('img_path', 'seg_map_path', 'sample_id', 'ori_shape',
                     'img_shape', 'pad_shape', 'scale_factor', 'flip',
                     'flip_direction', 'reduce_zero_label', 'tasks',
                     'normal_axes', 'camera_intrinsics', 'depth_scale')


@TRANSFORMS.register_module()
class PackMultiTaskInputs(BaseTransform):
    """Pack the image and every task map into ``inputs`` / ``data_samples``.

    Each loaded map becomes ``PixelData`` in the task's ``gt_field``
    (:data:`mmmtcp.utils.TASKS`): labels (semseg, human parts, edge,
    saliency) as ``int64 1xHxW``, depth as ``float32 1xHxW``, normals as
    ``float32 3xHxW``. Missing geometric metainfo gets neutral defaults
    (``pad_shape = img_shape``, ``scale_factor = (1, 1)``, ``flip=False``,
    ``depth_scale = 1``) so every sample carries the same keys.

    Args:
        meta_keys (Sequence[str]): Keys copied into the sample's metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        packed = {}
        img = results['img']
        if img.ndim < 3:
            img = img[..., None]
        packed['inputs'] = to_tensor(
            np.ascontiguousarray(img.transpose(2, 0, 1))).contiguous()

        sample = SegDataSample()
        for spec in TASKS.values():
            gt = results.get(spec.gt_key)
            if gt is None:
                continue
            data = spec.kind_impl.pack(gt)
            sample.set_data({spec.gt_field: PixelData(data=data)})

        results.setdefault('img_shape', img.shape[:2])
        results.setdefault('ori_shape', img.shape[:2])
        results.setdefault('pad_shape', results['img_shape'])
        results.setdefault('scale_factor', (1.0, 1.0))
        results.setdefault('flip', False)
        results.setdefault('flip_direction', None)
        results.setdefault('reduce_zero_label', False)
        results.setdefault('depth_scale', 1.0)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        packed['data_samples'] = sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
