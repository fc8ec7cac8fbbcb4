"""Generic n-channel regression maps (albedo, flow, offsets, ...)."""
from typing import Dict, Tuple

import numpy as np
from torch import Tensor

from mmmtcp.functional.formats import imread_unchanged, load_npy
from mmmtcp.functional.resampling import masked_resize, masked_warp
from mmmtcp.registry import TASK_KINDS

from .base_task_kind import BaseTaskKind


@TASK_KINDS.register_module(name='regression')
class RegressionKind(BaseTaskKind):
    """Float maps with ``channels`` components; a pixel is invalid where
    any component is NaN (padding and uncovered pixels are NaN).

    Read from ``.npy`` (``H x W`` or ``H x W x C``) or PNG (8/16-bit values
    divided by 255 / 65535); resized and warped bilinearly over valid
    pixels; predicted as ``channels`` raw values; trained with L1 over
    valid pixels (:class:`RegressionL1Loss`); scored by the mean absolute
    error and RMSE over valid pixels and components (``mae``, ``rmse``);
    drawn as RGB in ``[0, 1]`` (3 channels) or a grey map of the first
    component. It says nothing about which pixels belong together, so a
    task of this kind is no source of the contrastive regularizer (it can
    be a target).
    """

    name = 'regression'
    pad_val = float('nan')
    default_loss = dict(type='RegressionL1Loss', loss_weight=1.0)
    metric_names = ('mae', 'rmse')
    lower_is_better = ('mae', 'rmse')
    nonfinite_rule = "twice the image's largest absolute ground-truth value"

    def read(self, path: str, **kwargs) -> np.ndarray:
        if path.endswith('.npy'):
            data = load_npy(path).astype(np.float32)
        else:
            img = imread_unchanged(path)
            scale = 65535.0 if img.dtype == np.uint16 else 255.0
            if img.ndim == 3:
                img = img[..., 2::-1]  # cv2 reads BGR
            data = img.astype(np.float32) / scale
        return self.check_map(data, path).astype(np.float32)

    def _valid(self, data: np.ndarray) -> np.ndarray:
        return np.isfinite(data).all(axis=-1) if data.ndim == 3 else \
            np.isfinite(data)

    def resize(self, data: np.ndarray, size_hw: Tuple[int, int],
               **ctx) -> np.ndarray:
        valid = self._valid(data)
        out, new_valid = masked_resize(
            np.where(valid[..., None] if data.ndim == 3 else valid, data, 0),
            valid, size_hw)
        return self._invalidate(out, new_valid)

    def warp(self, data: np.ndarray, matrix: np.ndarray,
             size_wh: Tuple[int, int], angle: float, **ctx) -> np.ndarray:
        valid = self._valid(data)
        out, new_valid = masked_warp(
            np.where(valid[..., None] if data.ndim == 3 else valid, data, 0),
            valid, matrix, size_wh)
        return self._invalidate(out, new_valid)

    @staticmethod
    def _invalidate(out: np.ndarray, valid: np.ndarray) -> np.ndarray:
        mask = valid[..., None] if out.ndim == 3 else valid
        return np.where(mask, out, np.nan).astype(np.float32)

    def activate(self, out: Tensor) -> Tensor:
        return out

    def stats(self, pred: np.ndarray, gt: np.ndarray,
              **ctx) -> Dict[str, np.ndarray]:
        valid = self._valid(gt)
        err = pred[valid].astype(np.float64) - gt[valid]
        bad = ~np.isfinite(err)
        # a non-finite prediction counts as the largest error of the image
        worst = float(np.nanmax(np.abs(gt[valid]))) * 2 if valid.any() \
            else 0.0
        err = np.where(bad, worst, np.abs(err))
        return dict(
            count=np.asarray(err.size, dtype=np.int64),
            abs_sum=np.asarray(err.sum()),
            sq_sum=np.asarray((err**2).sum()),
            nonfinite=np.asarray(int(bad.any(axis=-1).sum())
                                 if bad.ndim > 1 else int(bad.sum()),
                                 dtype=np.int64))

    def summarize(self, stats: Dict[str, np.ndarray],
                  **ctx) -> Dict[str, float]:
        n = float(stats['count'])
        if n == 0:
            return dict(mae=float('nan'), rmse=float('nan'))
        return dict(
            mae=float(stats['abs_sum'] / n),
            rmse=float(np.sqrt(stats['sq_sum'] / n)))

    def render(self, data: np.ndarray, image: np.ndarray,
               **ctx) -> np.ndarray:
        valid = self._valid(data)
        if data.ndim == 3 and data.shape[2] == 3:
            rgb = np.clip(np.nan_to_num(data), 0, 1) * 255
        else:
            first = data[..., 0] if data.ndim == 3 else data
            lo, hi = (np.nanmin(first), np.nanmax(first)) if valid.any() \
                else (0.0, 1.0)
            grey = np.clip((np.nan_to_num(first) - lo) / max(hi - lo, 1e-6),
                           0, 1) * 255
            rgb = np.repeat(grey[..., None], 3, axis=-1)
        rgb = rgb.astype(np.uint8)
        rgb[~valid] = 0
        return rgb
