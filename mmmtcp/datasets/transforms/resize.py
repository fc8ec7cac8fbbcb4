"""Resizing that treats each dense map of multi-task prediction correctly."""
import math

import cv2
from mmseg.datasets.transforms import Resize
from mmseg.registry import TRANSFORMS

from mmmtcp.functional.geometry import scale_intrinsics
from mmmtcp.tasks.task_spec import task_of_gt_key


@TRANSFORMS.register_module()
class MultiTaskResize(Resize):
    """Resize the image and every dense map with the rule of its kind.

    - label maps (semseg, human parts, edge, saliency): nearest neighbour.
    - depth: ``depth_interpolation='bilinear'`` (default) averages only
      valid pixels (a pixel stays valid when at least half of its bilinear
      weight is on valid pixels), ``'nearest'`` copies values; invalid (0)
      never bleeds into valid depth. Values: with
      ``depth_scale_mode='divide'`` (default, the reference protocol)
      depth is divided by the scale factor ``s = sqrt(sx * sy)`` (zooming
      in by ``s`` with unchanged intrinsics looks like being ``s`` times
      closer); ``'keep'`` keeps metric depth (the scaled intrinsics then
      carry the zoom). The accumulated divisor is in
      ``results['depth_scale']``.
    - normals: valid-masked bilinear per component, then re-normalized to
      unit length; invalid stays the zero vector.
    - ``camera_intrinsics`` (if present) are rescaled from their
      ``width x height`` to the new image size with
      :func:`mmmtcp.functional.geometry.scale_intrinsics` (``fx * sx``,
      ``cx' = (cx + 0.5) * sx - 0.5``, ...: half-pixel centres, as the
      image is resampled).

    Args:
        depth_scale_mode (str): ``'divide'`` or ``'keep'``.
        depth_interpolation (str): ``'bilinear'`` or ``'nearest'``.
        **kwargs: Arguments of mmseg ``Resize`` (``scale``,
            ``scale_factor``, ``keep_ratio``, ``interpolation``...).
    """

    def __init__(self,
                 depth_scale_mode: str = 'divide',
                 depth_interpolation: str = 'bilinear',
                 **kwargs) -> None:
        if depth_scale_mode not in ('divide', 'keep'):
            raise ValueError("`depth_scale_mode` must be 'divide' or 'keep', "
                             f'got {depth_scale_mode!r}')
        if depth_interpolation not in ('bilinear', 'nearest'):
            raise ValueError("`depth_interpolation` must be 'bilinear' or "
                             f"'nearest', got {depth_interpolation!r}")
        super().__init__(**kwargs)
        self.depth_scale_mode = depth_scale_mode
        self.depth_interpolation = depth_interpolation

    def _resize_seg(self, results: dict) -> None:
        h, w = results['img'].shape[:2]
        sx, sy = results['scale_factor']
        for key in results.get('seg_fields', []):
            gt = results.get(key)
            if gt is None:
                continue
            spec = task_of_gt_key(key)
            if spec is None:
                # another transform's segmentation field: mmseg's rule
                results[key] = cv2.resize(
                    gt, (w, h), interpolation=cv2.INTER_NEAREST)
                continue
            results[key] = spec.kind_impl.resize(
                gt, (h, w),
                depth_interpolation=self.depth_interpolation,
                depth_scale_mode=self.depth_scale_mode,
                zoom=math.sqrt(sx * sy))
        if self.depth_scale_mode == 'divide' and any(
                task_of_gt_key(k).kind_impl.scales_with_zoom
                for k in results.get('seg_fields', [])
                if task_of_gt_key(k) is not None):
            results['depth_scale'] = results.get('depth_scale',
                                                 1.0) * math.sqrt(sx * sy)
        intr = results.get('camera_intrinsics')
        if intr is not None:
            # the image was resampled with half-pixel centres (cv2.resize);
            # see mmmtcp.functional.geometry for the convention
            results['camera_intrinsics'] = scale_intrinsics(intr, w, h)

    def __repr__(self) -> str:
        return (super().__repr__() +
                f'(depth_scale_mode={self.depth_scale_mode}, '
                f'depth_interpolation={self.depth_interpolation})')
