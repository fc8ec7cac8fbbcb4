"""Binary masks scored as salient-object maps (saliency)."""
from typing import Dict, Tuple

import numpy as np
from torch import Tensor

from mmmtcp.functional import saliency_stats, summarize_saliency
from mmmtcp.functional.formats import read_saliency_png
from mmmtcp.registry import TASK_KINDS

from .base_task_kind import BaseTaskKind, resize_nearest
from .task_spec import IGNORE_INDEX


@TASK_KINDS.register_module(name='binary')
class BinaryKind(BaseTaskKind):
    """``0`` / ``1`` masks with ``255`` ignored.

    Resized with nearest neighbour, predicted as one logit (sigmoid
    probability at inference; non-finite outputs become NaN), trained with
    balanced binary cross-entropy, scored by maxF (F-beta over thresholds)
    and mIoU at 0.5, drawn as a grey map. As a contrastive source, pixels
    on the same side of the mask are positives.
    """

    name = 'binary'
    is_label = True
    pad_val = IGNORE_INDEX
    default_loss = dict(
        type='BalancedBCELoss', pos_weight=None, loss_weight=1.0)
    metric_names = ('maxF', 'mIoU')
    nonfinite_rule = 'the wrong side of every threshold (1 - gt)'

    def read(self, path: str, **kwargs) -> np.ndarray:
        if path.endswith('.npy'):
            return (super().read(path) >= 0.5).astype(np.uint8)
        return read_saliency_png(path)

    def activate(self, out: Tensor) -> Tensor:
        nonfinite = ~out.isfinite().all(dim=0, keepdim=True)
        return out.sigmoid().masked_fill(nonfinite, float('nan'))

    def contrast_targets(self, gt: Tensor,
                         size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        values = resize_nearest(gt, size)
        return values, values[0] != IGNORE_INDEX

    def stats(self, pred: np.ndarray, gt: np.ndarray,
              saliency_thresholds=None, **ctx) -> Dict[str, np.ndarray]:
        return saliency_stats(pred, gt, saliency_thresholds, IGNORE_INDEX)

    def summarize(self, stats: Dict[str, np.ndarray],
                  saliency_beta2: float = 0.3,
                  ignore_empty_classes: bool = True,
                  **ctx) -> Dict[str, float]:
        return summarize_saliency(stats, saliency_beta2, ignore_empty_classes)

    def write(self, pred: np.ndarray) -> Tuple[str, np.ndarray]:
        pred = np.where(np.isfinite(pred), pred, 0.0)
        return '.png', np.round(np.clip(pred, 0, 1) * 255).astype(np.uint8)

    def render(self, data: np.ndarray, image: np.ndarray, visualizer=None,
               is_gt: bool = False, **ctx) -> np.ndarray:
        return visualizer._render_gray(data, is_gt)
