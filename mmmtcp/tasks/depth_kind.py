"""Metric depth maps."""
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor

from mmmtcp.functional import depth_stats, summarize_depth
from mmmtcp.functional.formats import read_depth_npy
from mmmtcp.functional.resampling import masked_resize, masked_warp
from mmmtcp.registry import TASK_KINDS

from .base_task_kind import BaseTaskKind, resize_nearest


@TASK_KINDS.register_module(name='depth')
class DepthKind(BaseTaskKind):
    """Depth in metres, ``<= 0`` invalid.

    Resized and warped bilinearly over valid pixels only (invalid never
    bleeds into valid depth; ``depth_interpolation='nearest'`` copies),
    with ``depth_scale_mode='divide'`` dividing by the zoom; predicted as
    one channel clamped at 0; trained with L1 over valid pixels; scored by
    RMSE / abs-rel / log-RMSE; drawn with a colour map over the valid depth
    range of the image's ground truth (else prediction), with a colour bar
    in metres. As a contrastive source, pixels whose relative depth
    difference is under the regularizer's ``depth_threshold`` are
    positives; in the coherence measures normals are derived from it.
    """

    name = 'depth'
    pad_val = 0.0
    scales_with_zoom = True
    default_loss = dict(type='DepthL1Loss', loss_weight=1.0)
    metric_names = ('rmse', 'abs_rel', 'log_rmse')
    lower_is_better = ('rmse', 'abs_rel', 'log_rmse')
    nonfinite_rule = ("the worst depth in [0, the image's largest valid gt "
                      'depth]')
    coherence_role = 'metric_depth'
    colour_bar_unit = 'm'

    def read(self, path: str, **kwargs) -> np.ndarray:
        return read_depth_npy(path, **kwargs)

    def resize(self, data: np.ndarray, size_hw: Tuple[int, int],
               depth_interpolation: str = 'bilinear',
               zoom: float = 1.0, depth_scale_mode: str = 'keep',
               **ctx) -> np.ndarray:
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
        out, _ = masked_warp(data, data > 0, matrix, size_wh)
        if depth_scale_mode == 'divide':
            out = out / zoom
        return out.astype(np.float32)

    def activate(self, out: Tensor) -> Tensor:
        nonfinite = ~out.isfinite().all(dim=0, keepdim=True)
        return out.clamp(min=0).masked_fill(nonfinite, float('nan'))

    def contrast_targets(self, gt: Tensor,
                         size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        values = resize_nearest(gt, size)
        return values, values[0] > 0

    def contrast_positives(self, values: Tensor,
                           depth_threshold: float = 0.1,
                           **settings) -> Tensor:
        """Pairs whose relative depth difference
        ``|d_i - d_j| / max(d_i, d_j)`` is under ``depth_threshold``."""
        d = values[:, 0]
        rel = (d[:, None] - d[None, :]).abs() / torch.maximum(
            d[:, None], d[None, :]).clamp(min=1e-6)
        return rel < depth_threshold

    def stats(self, pred: np.ndarray, gt: np.ndarray,
              **ctx) -> Dict[str, np.ndarray]:
        return depth_stats(pred, gt)

    def summarize(self, stats: Dict[str, np.ndarray],
                  **ctx) -> Dict[str, float]:
        return summarize_depth(stats)

    def value_range(self,
                    maps: Sequence[Optional[np.ndarray]]) -> Tuple[float,
                                                                   float]:
        """The valid (``> 0``) depth range of the first map that has
        any."""
        for depth in maps:
            if depth is not None and (depth > 0).any():
                valid = depth[depth > 0]
                return float(valid.min()), float(valid.max())
        return 0.0, 1.0

    def render(self, data: np.ndarray, image: np.ndarray, visualizer=None,
               value_range: Tuple[float, float] = (0.0, 1.0),
               **ctx) -> np.ndarray:
        return visualizer._render_depth(data, *value_range)
