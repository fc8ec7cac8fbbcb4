"""Surface normal maps."""
import math
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmmtcp.functional import normal_stats, summarize_normals
from mmmtcp.functional.formats import read_normals_npy, read_normals_png
from mmmtcp.functional.resampling import (masked_resize, masked_warp,
                                          unit_normals)
from mmmtcp.registry import TASK_KINDS

from .base_task_kind import BaseTaskKind, resize_nearest


@TASK_KINDS.register_module(name='normal')
class NormalKind(BaseTaskKind):
    """Unit 3-vectors in the camera frame (right, up, toward the camera);
    the zero vector is invalid.

    Resized and warped per component over valid pixels and re-normalized;
    a flip negates the flipped axis' component and a rotation rotates the
    (x, y) components; predicted as 3 channels normalized to unit length;
    trained with L1 over valid pixels; scored by the angular error (mean,
    median, RMSE, % within 11.25 / 22.5 / 30 degrees); drawn as
    ``(n + 1) / 2`` RGB. As a contrastive source, pixels whose normals are
    less than the regularizer's ``normal_threshold`` degrees apart are
    positives; in the coherence measures they are compared with the
    normals derived from depth.
    """

    name = 'normal'
    pad_val = 0.0
    default_loss = dict(type='NormalL1Loss', loss_weight=1.0)
    metric_names = ('mean', 'median', 'rmse', 'within_11_25', 'within_22_5',
                    'within_30')
    lower_is_better = ('mean', 'median', 'rmse')
    nonfinite_rule = 'an angular error of 180 degrees'
    coherence_role = 'unit_normals'

    def __init__(self, channels: int = 3) -> None:
        if channels != 3:
            raise ValueError(f'NormalKind: normals have 3 channels, got '
                             f'channels={channels}')
        super().__init__(channels)

    def read(self, path: str, **kwargs) -> np.ndarray:
        if path.endswith('.npy'):
            return read_normals_npy(path, **kwargs)
        return read_normals_png(path, **kwargs)

    def resize(self, data: np.ndarray, size_hw: Tuple[int, int],
               **ctx) -> np.ndarray:
        out, valid = masked_resize(data, np.any(data != 0, axis=-1),
                                   size_hw)
        return unit_normals(out, valid)

    def warp(self, data: np.ndarray, matrix: np.ndarray,
             size_wh: Tuple[int, int], angle: float, **ctx) -> np.ndarray:
        out, valid = masked_warp(data, np.any(data != 0, axis=-1), matrix,
                                 size_wh)
        rad = math.radians(angle)
        c, s = math.cos(rad), math.sin(rad)
        x, y = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0] = c * x - s * y
        out[..., 1] = s * x + c * y
        out = unit_normals(out, valid)
        out[out == 0] = 0.  # no negative zeros
        return out

    def flip(self, data: np.ndarray, axes: Sequence[int]) -> np.ndarray:
        data = data.copy()
        for axis in axes:
            data[..., axis] = -data[..., axis]
        data[data == 0] = 0.  # no negative zeros
        return data

    def activate(self, out: Tensor) -> Tensor:
        nonfinite = ~out.isfinite().all(dim=0, keepdim=True)
        return F.normalize(out, p=2, dim=0).masked_fill(
            nonfinite, float('nan'))

    def unflip(self, out: Tensor, axis: int) -> Tensor:
        sign = torch.ones(out.shape[1], device=out.device, dtype=out.dtype)
        sign[axis] = -1
        return out * sign.view(1, -1, 1, 1)

    def contrast_targets(self, gt: Tensor,
                         size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        values = resize_nearest(gt, size)
        norm = values.norm(dim=0)
        return values / norm.clamp(min=1e-6), norm > 0.5

    def contrast_positives(self, values: Tensor,
                           normal_threshold: float = 15.0,
                           **settings) -> Tensor:
        """Pairs of unit normals less than ``normal_threshold`` degrees
        apart."""
        return values @ values.t() > float(
            np.cos(np.deg2rad(normal_threshold)))

    def stats(self, pred: np.ndarray, gt: np.ndarray,
              **ctx) -> Dict[str, np.ndarray]:
        return normal_stats(pred, gt)

    def summarize(self, stats: Dict[str, np.ndarray],
                  **ctx) -> Dict[str, float]:
        return summarize_normals(stats)

    def write(self, pred: np.ndarray) -> Tuple[str, np.ndarray]:
        pred = np.where(np.isfinite(pred), pred, 0.0)
        rgb = np.clip((pred + 1.0) * 255.0 / 2.0, 0, 255)
        return '.png', np.round(rgb).astype(np.uint8)[..., ::-1]  # BGR

    def render(self, data: np.ndarray, image: np.ndarray, visualizer=None,
               **ctx) -> np.ndarray:
        return visualizer._render_normals(data)
