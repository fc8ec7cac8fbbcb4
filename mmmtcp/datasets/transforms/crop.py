"""Random cropping of all dense maps of multi-task dense prediction."""
import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmseg.datasets.transforms import RandomCrop
from mmseg.registry import TRANSFORMS

from mmmtcp.utils.geometry import crop_intrinsics


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
        crop_size (int | tuple[int, int]): ``(h, w)`` of the crop.
        cat_max_ratio (float): Maximum share of one semseg class.
        ignore_index (int): Label ignored by ``cat_max_ratio``.
    """

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
