"""Boundary maps (edge detection)."""
from typing import Dict

import numpy as np

from mmmtcp.registry import TASK_KINDS
from mmmtcp.utils.tasks import IGNORE_INDEX
from .binary_kind import BinaryKind


@TASK_KINDS.register_module(name='boundary')
class BoundaryKind(BinaryKind):
    """Binary boundary maps: as :class:`BinaryKind`, but trained with the
    edge weighting of the literature (``pos_weight=0.95``) and scored by
    the boundary F-measures odsF / oisF with a distance tolerance relative
    to the image diagonal (``edge_tolerance`` of the metric)."""

    name = 'boundary'
    default_loss = dict(
        type='BalancedBCELoss', pos_weight=0.95, loss_weight=1.0)
    metric_names = ('odsF', 'oisF')
    nonfinite_rule = 'an unmatched boundary pixel at every threshold'

    def read(self, path: str, **kwargs) -> np.ndarray:
        from mmmtcp.datasets.formats import read_edge_npy, read_edge_png
        if path.endswith('.npy'):
            return read_edge_npy(path)
        return read_edge_png(path)

    def stats(self, pred: np.ndarray, gt: np.ndarray,
              edge_tolerance: float = 0.011, edge_thresholds=None,
              **ctx) -> Dict[str, np.ndarray]:
        from mmmtcp.evaluation.functional import edge_stats
        return edge_stats(pred, gt, edge_tolerance, edge_thresholds,
                          IGNORE_INDEX)

    def summarize(self, stats: Dict[str, np.ndarray],
                  **ctx) -> Dict[str, float]:
        from mmmtcp.evaluation.functional import summarize_edges
        return summarize_edges(stats)
