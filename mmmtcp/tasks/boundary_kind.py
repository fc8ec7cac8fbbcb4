"""Boundary maps (edge detection)."""
from typing import Dict, Tuple

import numpy as np

from mmmtcp.registry import TASK_KINDS
from mmmtcp.utils.tasks import IGNORE_INDEX
from .binary_kind import BinaryKind


@TASK_KINDS.register_module(name='boundary')
class BoundaryKind(BinaryKind):
    """Binary boundary maps: as :class:`BinaryKind`, but trained with the
    edge weighting of the literature (``pos_weight=0.95``) and scored by
    the boundary F-measures odsF / oisF with a distance tolerance relative
    to the image diagonal (``edge_tolerance`` of the metric), with the
    settings ``edge_matcher``, ``edge_nms``, ``edge_gt_boundaries`` and
    ``edge_thresholds`` of :class:`~mmmtcp.evaluation.MultiTaskMetric`.
    With ``edge_matcher='dilate'`` the metrics are reported as
    ``odsF_dilate`` / ``oisF_dilate``."""

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
              edge_matcher: str = 'correspond', edge_nms: bool = True,
              edge_gt_boundaries: bool = True,
              **ctx) -> Dict[str, np.ndarray]:
        from mmmtcp.evaluation.functional import SEISM_THRESHOLDS, edge_stats
        if edge_thresholds is None:
            edge_thresholds = SEISM_THRESHOLDS
        return edge_stats(pred, gt, edge_tolerance, edge_thresholds,
                          IGNORE_INDEX, matcher=edge_matcher, nms=edge_nms,
                          gt_boundaries=edge_gt_boundaries)

    @staticmethod
    def _suffix(edge_matcher: str = 'correspond', **ctx) -> str:
        """Metric-name suffix of a non-protocol matcher: ``odsF_dilate``
        is never confused with the protocol's ``odsF``."""
        return '' if edge_matcher == 'correspond' else f'_{edge_matcher}'

    def summarize(self, stats: Dict[str, np.ndarray],
                  **ctx) -> Dict[str, float]:
        from mmmtcp.evaluation.functional import summarize_edges
        return summarize_edges(stats, self._suffix(**ctx))

    def reported_names(self, **ctx) -> Tuple[str, ...]:
        suffix = self._suffix(**ctx)
        return tuple(f'{name}{suffix}' for name in self.metric_names)
