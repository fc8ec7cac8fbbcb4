"""Random cropping of all dense maps of multi-task dense prediction."""
from numbers import Integral
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmseg.datasets.transforms import RandomCrop
from mmseg.registry import TRANSFORMS

from mmmtcp.functional.geometry import crop_intrinsics


def _check_crop_size(crop_size: Union[int, Sequence[int]]
                     ) -> Union[int, Tuple[int, int]]:
    """``crop_size`` as mmseg's ``RandomCrop`` takes it, or raise.

    Args:
        crop_size (int | Sequence[int]): One side, or ``(h, w)``.

    Returns:
        int | tuple[int, int]: The size, a pair as a tuple of ints.

    Raises:
        ValueError: The size is not positive or not one or two integers.
    """

    def positive(value) -> bool:
        return isinstance(value, Integral) and not isinstance(
            value, bool) and value > 0

    if positive(crop_size):
        return int(crop_size)
    if isinstance(crop_size, (tuple, list)) and len(crop_size) == 2 and all(
            positive(v) for v in crop_size):
        return int(crop_size[0]), int(crop_size[1])
    raise ValueError(
        f'MultiTaskRandomCrop: `crop_size` must be a positive integer or a '
        f'pair (h, w) of positive integers, got crop_size={crop_size!r} '
        '(set `crop_size` of the MultiTaskRandomCrop step of the pipeline, '
        'e.g. `crop_size = (448, 576)` in the dataset config).')


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(RandomCrop):
    """mmseg's ``RandomCrop`` for every map in ``seg_fields``.

    The crop window is drawn as in mmseg; with ``cat_max_ratio < 1`` it is
    redrawn (up to 10 times) while a single semseg class covers more than
    that share of the window (only when ``gt_seg_map`` is loaded). Crops
    larger than the image are clipped to it (pad afterwards). The principal
    point of ``camera_intrinsics`` (if present) is shifted by the window
    origin.

    Args:
        crop_size (int | tuple[int, int]): ``(h, w)`` of the crop, positive
            integers (a list of two is accepted as well).
        cat_max_ratio (float): Maximum share of one semseg class.
            Defaults to 1.0 (no constraint).
        ignore_index (int): Label ignored by ``cat_max_ratio``.
            Defaults to 255.

    Raises:
        ValueError: ``crop_size`` is not a positive integer or a pair of
            positive integers.
    """

    def __init__(self,
                 crop_size: Union[int, Sequence[int]],
                 cat_max_ratio: float = 1.,
                 ignore_index: int = 255) -> None:
        super().__init__(
            crop_size=_check_crop_size(crop_size),
            cat_max_ratio=cat_max_ratio,
            ignore_index=ignore_index)

    @cache_randomness
    def crop_bbox(self, results: dict) -> tuple:
        img = results['img']

        def draw() -> tuple:
            margin_h = max(img.shape[0] - self.crop_size[0], 0)
            margin_w = max(img.shape[1] - self.crop_size[1], 0)
            y1 = np.random.randint(0, margin_h + 1)
            x1 = np.random.randint(0, margin_w + 1)
            return y1, y1 + self.crop_size[0], x1, x1 + self.crop_size[1]

        bbox = draw()
        seg = results.get('gt_seg_map')
        if self.cat_max_ratio < 1. and seg is not None:
            for _ in range(10):
                labels, cnt = np.unique(self.crop(seg, bbox),
                                        return_counts=True)
                cnt = cnt[labels != self.ignore_index]
                if len(cnt) > 1 and np.max(cnt) / np.sum(
                        cnt) < self.cat_max_ratio:
                    break
                bbox = draw()
        return bbox

    def transform(self, results: dict) -> dict:
        bbox = self.crop_bbox(results)
        y1, _, x1, _ = bbox
        results['img'] = self.crop(results['img'], bbox)
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                results[key] = self.crop(results[key], bbox)
        h, w = results['img'].shape[:2]
        results['img_shape'] = (h, w)
        intr = results.get('camera_intrinsics')
        if intr is not None:
            results['camera_intrinsics'] = crop_intrinsics(
                intr, x1, y1, w, h)
        return results
