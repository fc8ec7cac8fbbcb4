"""Metric depth maps."""
from typing import Dict, Tuple

import cv2
import numpy as np
from torch import Tensor

from mmmtcp.registry import TASK_KINDS
from .base_task_kind import BaseTaskKind


@TASK_KINDS.register_module(name='depth')
class DepthKind(BaseTaskKind):
    """Depth in metres, ``<= 0`` invalid.

    Resized and warped bilinearly over valid pixels only (invalid never
    bleeds into valid depth; ``depth_interpolation='nearest'`` copies),
    with ``depth_scale_mode='divide'`` dividing by the zoom; predicted as
    one channel clamped at 0; trained with L1 over valid pixels; scored by
    RMSE / abs-rel / log-RMSE; drawn with a colour map over the image's
    depth range.
    """

    name = 'depth'
    pad_val = 0.0
    scales_with_zoom = True
    default_loss = dict(type='DepthL1Loss', loss_weight=1.0)
    metric_names = ('rmse', 'abs_rel', 'log_rmse')
    lower_is_better = ('rmse', 'abs_rel', 'log_rmse')
    nonfinite_rule = ("the worst depth in [0, the image's largest valid gt "
                      'depth]')

    def read(self, path: str, **kwargs) -> np.ndarray:
        from mmmtcp.datasets.formats import read_depth_npy
        return read_depth_npy(path, **kwargs)

    def resize(self, data: np.ndarray, size_hw: Tuple[int, int],
               depth_interpolation: str = 'bilinear',
               zoom: float = 1.0, depth_scale_mode: str = 'keep',
               **ctx) -> np.ndarray:
        from mmmtcp.datasets.transforms.resize import masked_resize
        h, w = size_hw
        if depth_interpolation == 'nearest':
            out = cv2.resize(data, (w, h), interpolation=cv2.INTER_NEAREST)
        else:
            out, _ = masked_resize(data, data > 0, (h, w))
        if depth_scale_mode == 'divide':
            out = out / zoom
        return out.astype(np.float32)

    def warp(self, data: np.ndarray, matrix: np.ndarray,
             size_wh: Tuple[int, int], angle: float, zoom: float = 1.0,
             depth_scale_mode: str = 'keep', **ctx) -> np.ndarray:
        from mmmtcp.datasets.transforms.scale_rotate import _masked_warp
        out, _ = _masked_warp(data, data > 0, matrix, size_wh)
        if depth_scale_mode == 'divide':
            out = out / zoom
        return out.astype(np.float32)

    def activate(self, out: Tensor) -> Tensor:
        nonfinite = ~out.isfinite().all(dim=0, keepdim=True)
        return out.clamp(min=0).masked_fill(nonfinite, float('nan'))

    def stats(self, pred: np.ndarray, gt: np.ndarray,
              **ctx) -> Dict[str, np.ndarray]:
        from mmmtcp.evaluation.functional import depth_stats
        return depth_stats(pred, gt)

    def summarize(self, stats: Dict[str, np.ndarray],
                  **ctx) -> Dict[str, float]:
        from mmmtcp.evaluation.functional import summarize_depth
        return summarize_depth(stats)

    def render(self, data: np.ndarray, image: np.ndarray, visualizer=None,
               depth_range: Tuple[float, float] = (0.0, 1.0),
               **ctx) -> np.ndarray:
        return visualizer._render_depth(data, *depth_range)

