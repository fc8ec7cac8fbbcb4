"""Loss Prioritization Scheme (LPS) of MT-CP.

"Optimizing Dense Visual Predictions Through Multi-Task Coherence and
Prioritization", Fontana, Spratling, Shi, WACV 2025.

Two parts:

1. Log-scale projection: each task loss ``L_t`` is trained as
   ``log(L_t + 1 + eps)``, putting losses of different magnitudes on one
   scale.
2. History-based prioritization: per-task weights are recomputed at the end
   of every update period from the mean (projected) loss of each task over
   that period, ``m_t``, and their sum ``M = sum_t m_t``:

   - after the first period: ``w_t = M / m_t``;
   - later: ``r_t = (m_t / m_t') / (M / M')`` with ``'`` the previous
     period, so tasks improving slower than the total get a larger ratio,
     then the ratios are spread around their mean,
     ``w_t = mean(r) + spread * (r_t - mean(r))``;
   - weights are clamped to ``>= min_weight`` (non-negative) and optionally
     rescaled to sum to the number of tasks.

   Before the first period ends all weights are 1.

Statistics use the *projected* losses when ``log_scale`` is on: the
projected loss is the loss being trained, and the reference implementation
(``MultiTaskLoss2`` in Klodivio355/MT-CP) computes its task and total ratios
on ``log(L + 1 + eps)``. The total ``M`` is the unweighted sum of the task
means, as in the reference training loop. Unlike the released reference
code, whose weighted total is overwritten by the unweighted one, the weights
are applied.
"""
import math
from typing import Optional

import torch

from mmseg.registry import MODELS
from .base_balancer import PeriodicTaskBalancer


@MODELS.register_module()
class LossPrioritization(PeriodicTaskBalancer):
    """Loss Prioritization Scheme (LPS).

    Args:
        spread (float): Spread control ``s`` stretching the ratios around
            their mean; 7.5 for NYUD-v2 and 1.6 for PASCAL-Context in the
            reference. Defaults to 7.5.
        period (int, optional): Update period in training iterations.
            ``None`` means one epoch (``len(train_dataloader)``), as in the
            reference. Defaults to None.
        log_scale (bool): Train ``log(L_t + 1 + eps)`` instead of ``L_t``,
            and compute the statistics on it. Defaults to True.
        eps (float): The ``eps`` of the log-scale projection.
            Defaults to 1e-6.
        min_weight (float): Lower clamp of the weights (>= 0).
            Defaults to 0.0.
        normalize (bool): Rescale the weights to sum to the number of tasks
            after every update. The paper does not. Defaults to False.
        spread_mode (str): How the spread acts on the ratios.
            ``'linear'`` (the paper and reference code):
            ``w_t = mean(r) + s * (r_t - mean(r))``, clamped at
            ``min_weight``; a task whose ratio lies more than
            ``mean(r) / s`` below the mean (13% for ``s = 7.5``) gets weight
            0 for a whole period. ``'geometric'``:
            ``w_t = mean(r) * (r_t / mean(r)) ** s``, equal to the linear
            form to first order in ``r_t - mean(r)`` (the regime of the
            reference's small per-epoch changes) but always positive, so a
            task that improves fast is down-weighted, never switched off.
            Defaults to ``'linear'``.
    """

    def __init__(self,
                 spread: float = 7.5,
                 period: Optional[int] = None,
                 log_scale: bool = True,
                 eps: float = 1e-6,
                 min_weight: float = 0.0,
                 normalize: bool = False,
                 spread_mode: str = 'linear') -> None:
        super().__init__(period=period)
        if spread_mode not in ('linear', 'geometric'):
            raise ValueError("LossPrioritization: `spread_mode` must be "
                             f"'linear' or 'geometric', got {spread_mode!r}")
        self.spread_mode = spread_mode
        if not math.isfinite(spread) or spread < 0:
            raise ValueError(f'LossPrioritization: `spread` must be a finite '
                             f'non-negative number, got {spread!r}')
        if not math.isfinite(min_weight) or min_weight < 0:
            raise ValueError('LossPrioritization: `min_weight` must be a '
                             f'finite non-negative number, got {min_weight!r}')
        if eps < 0:
            raise ValueError(f'LossPrioritization: `eps` must be >= 0, got '
                             f'{eps!r}')
        self.spread = float(spread)
        self.log_scale = log_scale
        self.eps = float(eps)
        self.min_weight = float(min_weight)
        self.normalize = normalize

    def project(self, losses: torch.Tensor) -> torch.Tensor:
        if not self.log_scale:
            return losses
        return torch.log(losses + (1.0 + self.eps))

    def _period_weights(self,
                        means: torch.Tensor) -> Optional[torch.Tensor]:
        total = means.sum()
        if len(self.period_means) == 1:
            weights = total / means
        else:
            prev = torch.tensor(self.period_means[-2], dtype=torch.float64)
            ratios = (means / prev) / (total / prev.sum())
            mean_ratio = ratios.mean()
            if self.spread_mode == 'linear':
                weights = mean_ratio + self.spread * (ratios - mean_ratio)
            else:
                weights = mean_ratio * (ratios / mean_ratio)**self.spread
        if not bool(torch.isfinite(weights).all()):
            return weights
        weights = weights.clamp(min=self.min_weight)
        if self.normalize and float(weights.sum()) > 0:
            weights = weights * (self.num_tasks / weights.sum())
        return weights
