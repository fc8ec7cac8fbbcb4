"""Boundary maps (edge detection)."""
from typing import Dict, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor

from mmmtcp.functional import SEISM_THRESHOLDS, edge_stats, summarize_edges
from mmmtcp.functional.formats import read_edge_npy, read_edge_png
from mmmtcp.registry import TASK_KINDS

from .binary_kind import BinaryKind
from .task_spec import IGNORE_INDEX


def boundary_regions(edge: Tensor) -> Tensor:
    """The regions between boundaries: the 4-connected components of the
    non-boundary pixels of a packed ``(1, H, W)`` boundary map, numbered
    clear of the ignore value; boundary (and ignored) pixels become 255.

    Args:
        edge (Tensor): The boundary map (``0`` / ``1``, ``255`` ignored).

    Returns:
        Tensor: ``(1, H, W)`` int64 region ids on ``edge``'s device.
    """
    edge_np = edge[0].cpu().numpy()
    inside = (edge_np == 0).astype(np.uint8)
    _, regions = cv2.connectedComponents(inside, connectivity=4)
    regions = regions.astype(np.int64)
    regions[edge_np != 0] = IGNORE_INDEX
    # keep ids clear of the ignore value
    regions[(regions >= IGNORE_INDEX) & (edge_np == 0)] += 1
    return torch.from_numpy(regions)[None].to(edge.device)


@TASK_KINDS.register_module(name='boundary')
class BoundaryKind(BinaryKind):
    """Binary boundary maps: as :class:`BinaryKind`, but trained with the
    edge weighting of the literature (``pos_weight=0.95``) and scored by
    the boundary F-measures odsF / oisF with a distance tolerance relative
    to the image diagonal (``edge_tolerance`` of the metric), with the
    settings ``edge_matcher``, ``edge_nms``, ``edge_gt_boundaries`` and
    ``edge_thresholds`` of :class:`~mmmtcp.evaluation.MultiTaskMetric`.
    With ``edge_matcher='dilate'`` the metrics are reported as
    ``odsF_dilate`` / ``oisF_dilate``.

    As a contrastive source, pixels of the same region between boundaries
    are positives (:func:`boundary_regions`; boundary pixels are not
    sampled); in the coherence measures its maps are the boundaries
    compared with those of a label map."""

    name = 'boundary'
    default_loss = dict(
        type='BalancedBCELoss', pos_weight=0.95, loss_weight=1.0)
    metric_names = ('odsF', 'oisF')
    nonfinite_rule = 'an unmatched boundary pixel at every threshold'
    coherence_role = 'boundaries'

    def read(self, path: str, **kwargs) -> np.ndarray:
        if path.endswith('.npy'):
            return read_edge_npy(path)
        return read_edge_png(path)

    def contrast_targets(self, gt: Tensor,
                         size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        return super().contrast_targets(boundary_regions(gt), size)

    def stats(self, pred: np.ndarray, gt: np.ndarray,
              edge_tolerance: float = 0.011, edge_thresholds=None,
              edge_matcher: str = 'correspond', edge_nms: bool = True,
              edge_gt_boundaries: bool = True,
              **ctx) -> Dict[str, np.ndarray]:
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
        return summarize_edges(stats, self._suffix(**ctx))

    def reported_names(self, **ctx) -> Tuple[str, ...]:
        suffix = self._suffix(**ctx)
        return tuple(f'{name}{suffix}' for name in self.metric_names)
