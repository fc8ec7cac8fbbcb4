"""Padding of all dense maps with the fill value of their task."""
from typing import Dict, Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from mmmtcp.tasks.task_spec import TASKS, task_of_gt_key


@TRANSFORMS.register_module()
class MultiTaskPad(BaseTransform):
    """Pad the image and every map of ``seg_fields`` at the bottom/right.

    Each map is filled with its task kind's ``pad_val`` (labels 255, depth
    0, normals the zero vector, regression NaN), so padding is always
    invalid / ignored; a ``seg_fields`` entry of no task gets 255. The
    image keeps ``img_shape`` (its valid size) and gets ``pad_shape``.

    Args:
        size (tuple[int, int], optional): Target ``(h, w)`` (like
            ``RandomCrop``'s ``crop_size``); larger inputs are not cut.
        size_divisor (int, optional): Pad ``h`` and ``w`` up to a multiple.
        pad_val (dict, optional): Overrides, keyed by ``'img'``, a task name
            or a results key, e.g. ``dict(img=0, semseg=255)``. Only label
            maps and the image can be given another fill; any other fill
            would make padding look valid (255 in depth) and is refused.
    """

    def __init__(self,
                 size: Optional[Tuple[int, int]] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: Optional[Dict[str, float]] = None) -> None:
        if (size is None) == (size_divisor is None):
            raise ValueError('MultiTaskPad needs exactly one of `size` and '
                             '`size_divisor`')
        self.size = None if size is None else tuple(size)
        self.size_divisor = size_divisor
        self.pad_val = dict(img=0)
        for k, v in (pad_val or {}).items():
            key = TASKS[k].gt_key if k in TASKS else k
            self._check_fill(key, v)
            self.pad_val[key] = v

    @staticmethod
    def _check_fill(key: str, value: float) -> None:
        spec = task_of_gt_key(key)
        if spec is None or spec.is_label:
            return
        kind_val = spec.pad_val
        if not (value == kind_val or (value != value
                                      and kind_val != kind_val)):
            raise ValueError(
                f'MultiTaskPad: pad_val[{spec.name!r}]={value} would mark '
                f'padding as valid; it must be {kind_val} (the invalid '
                f'value of kind {spec.kind!r})')

    def _fill(self, key: str) -> float:
        if key in self.pad_val:
            return self.pad_val[key]
        spec = task_of_gt_key(key)
        return 255 if spec is None else spec.pad_val

    def _target(self, h: int, w: int) -> Tuple[int, int]:
        if self.size is not None:
            return max(h, self.size[0]), max(w, self.size[1])
        d = self.size_divisor
        return int(np.ceil(h / d)) * d, int(np.ceil(w / d)) * d

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        th, tw = self._target(h, w)
        val = self.pad_val['img']
        if img.ndim == 3 and np.isscalar(val):
            val = tuple([val] * img.shape[2])
        results['img'] = mmcv.impad(img, shape=(th, tw), pad_val=val)
        for key in results.get('seg_fields', []):
            gt = results.get(key)
            if gt is None:
                continue
            fill = self._fill(key)
            if gt.ndim == 3:
                fill = tuple([fill] * gt.shape[2])
            results[key] = mmcv.impad(gt, shape=(th, tw), pad_val=fill)
        results['img_shape'] = (h, w)
        results['pad_shape'] = (th, tw)
        results['pad_fixed_size'] = self.size
        results['pad_size_divisor'] = self.size_divisor
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'size_divisor={self.size_divisor}, pad_val={self.pad_val})')
