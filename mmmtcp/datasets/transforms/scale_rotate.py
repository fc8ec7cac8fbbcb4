"""Random zoom and rotation about the image centre for every dense map."""
import math
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

from mmmtcp.functional.geometry import warp_intrinsics
from mmmtcp.tasks.task_spec import IGNORE_INDEX, task_of_gt_key

Range = Union[Tuple[float, float], Sequence[float]]


@TRANSFORMS.register_module()
class MultiTaskRandomScaleRotate(BaseTransform):
    """Zoom by ``s`` and rotate by ``a`` degrees about the image centre,
    keeping the image size (the ``ScaleNRotate`` augmentation of the
    MTL-PyTorch / MT-CP reference loaders).

    Every map of ``seg_fields`` is warped with the same similarity:

    - image: bilinear, out-of-image pixels filled with ``img_fill``;
    - label and binary maps: nearest neighbour, filled with 255 (ignored);
    - depth: valid-masked bilinear, filled with 0 (invalid); values are kept
      (``depth_scale_mode='keep'``, the reference) or divided by ``s``
      (``'divide'``, like :class:`MultiTaskResize`);
    - normals: valid-masked bilinear, re-normalized, and their (x, y)
      components rotated by ``a`` about the viewing axis (in the
      ``normal_axes`` frame: x right, y up): turning the picture by ``a``
      is a roll of the camera, which turns every surface normal seen in
      the camera frame by the same angle;
    - ``camera_intrinsics`` (if present): ``fx, fy`` times ``s`` and the
      principal point moved by the warp
      (:func:`mmmtcp.functional.geometry.warp_intrinsics`; exact for
      ``fx == fy``).

    Angles are counter-clockwise as seen in the picture (OpenCV's
    ``getRotationMatrix2D`` convention).

    Required Keys:

    - img
    - seg_fields and the maps they name

    Modified Keys:

    - img
    - every map of seg_fields
    - camera_intrinsics (optional)

    Added Keys:

    - scale_rotate (``(s, a)``)
    - depth_scale (with ``depth_scale_mode='divide'``)

    Args:
        scales (Sequence[float]): Zoom factors to choose from (a list), or a
            ``(min, max)`` tuple to sample uniformly. Defaults to ``(1., )``.
        rotations (Sequence[float]): Angles in degrees, a list to choose
            from or a ``(min, max)`` tuple. Defaults to ``(0., )``.
        prob (float): Probability of applying the warp. Defaults to 1.
        depth_scale_mode (str): ``'keep'`` or ``'divide'``.
            Defaults to ``'keep'``.
        img_fill (float): Fill value of the image. Defaults to 0.
    """

    def __init__(self,
                 scales: Range = (1., ),
                 rotations: Range = (0., ),
                 prob: float = 1.0,
                 depth_scale_mode: str = 'keep',
                 img_fill: float = 0.) -> None:
        super().__init__()
        self.scales = self._check_range(scales, 'scales', positive=True)
        self.rotations = self._check_range(rotations, 'rotations')
        if not 0 <= prob <= 1:
            raise ValueError('MultiTaskRandomScaleRotate: `prob` must be in '
                             f'[0, 1], got {prob!r}')
        if depth_scale_mode not in ('keep', 'divide'):
            raise ValueError('MultiTaskRandomScaleRotate: `depth_scale_mode` '
                             f"must be 'keep' or 'divide', got "
                             f'{depth_scale_mode!r}')
        self.prob = prob
        self.depth_scale_mode = depth_scale_mode
        self.img_fill = img_fill

    @staticmethod
    def _check_range(values, name: str, positive: bool = False):
        if isinstance(values, (int, float)):
            values = [values]
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f'MultiTaskRandomScaleRotate: `{name}` must be '
                             'a non-empty list of values or a (min, max) '
                             f'tuple, got {values!r}')
        values = type(values)(float(v) for v in values)
        if any(not math.isfinite(v) for v in values) or (
                positive and min(values) <= 0):
            raise ValueError(f'MultiTaskRandomScaleRotate: `{name}` must be '
                             f'finite{" and > 0" if positive else ""}, got '
                             f'{values!r}')
        if isinstance(values, tuple) and len(values) == 2 and \
                values[0] > values[1]:
            raise ValueError(f'MultiTaskRandomScaleRotate: `{name}` range '
                             f'{values!r} has min > max')
        return values

    @staticmethod
    def _draw(values) -> float:
        # a 2-tuple is a range, anything else a set to choose from
        if isinstance(values, tuple) and len(values) == 2:
            return float(np.random.uniform(values[0], values[1]))
        return float(values[np.random.randint(len(values))])

    @cache_randomness
    def _sample(self) -> Optional[Tuple[float, float]]:
        if np.random.rand() >= self.prob:
            return None
        return self._draw(self.scales), self._draw(self.rotations)

    def transform(self, results: dict) -> dict:
        params = self._sample()
        if params is None:
            return results
        scale, angle = params
        img = results['img']
        h, w = img.shape[:2]
        centre = ((w - 1) / 2., (h - 1) / 2.)
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        size = (w, h)
        results['img'] = cv2.warpAffine(
            img, matrix, size, flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=self.img_fill)
        for key in results.get('seg_fields', []):
            gt = results.get(key)
            if gt is None:
                continue
            spec = task_of_gt_key(key)
            if spec is None:
                # another transform's segmentation field: nearest, ignored
                results[key] = cv2.warpAffine(
                    gt, matrix, size, flags=cv2.INTER_NEAREST,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE_INDEX)
                continue
            kind = spec.kind_impl
            results[key] = kind.warp(
                gt, matrix, size, angle, zoom=scale,
                depth_scale_mode=self.depth_scale_mode)
            if kind.scales_with_zoom and self.depth_scale_mode == 'divide':
                results['depth_scale'] = results.get('depth_scale',
                                                     1.0) * scale
        intr = results.get('camera_intrinsics')
        if intr is not None:
            # ``matrix`` maps integer pixel centres (the centre of rotation
            # is ((w - 1) / 2, (h - 1) / 2)), the convention of the
            # intrinsics
            results['camera_intrinsics'] = warp_intrinsics(
                intr, matrix, w, h)
        results['scale_rotate'] = (scale, angle)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scales={self.scales}, '
                f'rotations={self.rotations}, prob={self.prob}, '
                f'depth_scale_mode={self.depth_scale_mode})')
