"""Multi-class label maps (semantic segmentation, human parts)."""
from typing import Dict, Optional, Tuple

import numpy as np
from torch import Tensor

from mmmtcp.functional import label_stats, nonfinite_labels, summarize_labels
from mmmtcp.functional.formats import read_label_png
from mmmtcp.registry import TASK_KINDS

from .base_task_kind import BaseTaskKind, resize_nearest
from .task_spec import IGNORE_INDEX, NONFINITE_LABEL


@TASK_KINDS.register_module(name='label')
class LabelKind(BaseTaskKind):
    """Integer class ids, ``255`` ignored.

    Resized and warped with nearest neighbour, packed as int64, predicted
    as ``num_classes`` logits (argmax at inference; a pixel with a
    non-finite logit becomes ``NONFINITE_LABEL``), trained with
    cross-entropy, scored by mIoU / pixel accuracy, drawn with the data
    set's palette over the image. As a contrastive source, pixels of one
    class are positives; in the coherence measures the borders of its
    regions are boundaries.
    """

    name = 'label'
    is_label = True
    needs_classes = True
    pad_val = IGNORE_INDEX
    default_loss = dict(
        type='CrossEntropyLoss',
        use_sigmoid=False,
        avg_non_ignore=True,
        loss_weight=1.0)
    metric_names = ('mIoU', 'aAcc')
    nonfinite_rule = ('a prediction of no class (a miss of its ground-truth '
                      'class)')
    coherence_role = 'regions'

    def read(self, path: str, num_classes: Optional[int] = None,
             **kwargs) -> np.ndarray:
        """Read a label map, checking values against ``num_classes``."""
        if path.endswith('.npy'):
            return super().read(path).astype(np.uint8)
        return read_label_png(path, num_classes=num_classes)

    def loss_target(self, gt: Tensor) -> Tensor:
        return gt.squeeze(1).long()

    def activate(self, out: Tensor) -> Tensor:
        nonfinite = ~out.isfinite().all(dim=0, keepdim=True)
        labels = out.argmax(dim=0, keepdim=True).long()
        return labels.masked_fill(nonfinite, NONFINITE_LABEL)

    def contrast_targets(self, gt: Tensor,
                         size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        values = resize_nearest(gt, size)
        return values, values[0] != IGNORE_INDEX

    def stats(self, pred: np.ndarray, gt: np.ndarray, num_classes: int = 0,
              task: str = 'label', **ctx) -> Dict[str, np.ndarray]:
        return label_stats(pred, gt, num_classes, IGNORE_INDEX, task)

    def summarize(self, stats: Dict[str, np.ndarray],
                  ignore_empty_classes: bool = True,
                  **ctx) -> Dict[str, float]:
        return summarize_labels(stats, ignore_empty_classes)

    def write(self, pred: np.ndarray) -> Tuple[str, np.ndarray]:
        pred = np.where(nonfinite_labels(pred), IGNORE_INDEX, pred)
        if pred.size and (pred.min() < 0 or pred.max() > 255):
            raise ValueError('labels outside 0..255 cannot be written as a '
                             'uint8 PNG')
        return '.png', pred.astype(np.uint8)

    def render(self, data: np.ndarray, image: np.ndarray, visualizer=None,
               task: str = 'label', **ctx) -> np.ndarray:
        return visualizer._render_labels(task, image, data)
