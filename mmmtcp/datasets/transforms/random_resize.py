"""Random rescaling of all dense maps of multi-task dense prediction."""
from typing import Optional, Sequence, Tuple, Union

from mmcv.transforms import RandomResize
from mmseg.registry import TRANSFORMS

from .resize import MultiTaskResize


@TRANSFORMS.register_module()
class MultiTaskRandomResize(RandomResize):
    """mmcv's ``RandomResize`` sampling the scale as mmcv does, resizing
    with :class:`MultiTaskResize`.

    Args:
        scale (tuple[int, int] | Sequence): Base scale ``(w, h)`` (with
            ``ratio_range``) or the range to sample from, as in mmcv.
        ratio_range (tuple[float, float], optional): Range of the random
            ratio applied to ``scale``.
        **resize_kwargs: Arguments of :class:`MultiTaskResize`
            (``keep_ratio``, ``depth_scale_mode``, ``depth_interpolation``,
            ``interpolation``...).
    """

    def __init__(self,
                 scale: Union[Tuple[int, int], Sequence[Tuple[int, int]]],
                 ratio_range: Optional[Tuple[float, float]] = None,
                 **resize_kwargs) -> None:
        # built here rather than by registry name, so it works without a
        # default scope
        self.scale = scale
        self.ratio_range = ratio_range
        self.resize_cfg = dict(type='MultiTaskResize', **resize_kwargs)
        self.resize = MultiTaskResize(scale=0, **resize_kwargs)

    def transform(self, results: dict) -> dict:
        results['scale'] = self._random_scale()
        self.resize.scale = results['scale']
        return self.resize(results)
