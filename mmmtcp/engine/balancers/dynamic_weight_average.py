"""Dynamic Weight Average (DWA).

"End-to-End Multi-Task Learning with Attention", Liu, Johns, Davison,
CVPR 2019.

With ``L_k(n)`` the mean loss of task ``k`` over update period ``n`` (an
epoch in the paper), the weights of period ``n + 1`` are

    r_k = L_k(n) / L_k(n - 1),
    w_k = K * exp(r_k / T) / sum_i exp(r_i / T),

so they sum to the number of tasks ``K``; the first two periods use
``w_k = 1``.
"""
import math
from typing import Optional

import torch

from mmseg.registry import MODELS
from .base_balancer import PeriodicTaskBalancer


@MODELS.register_module()
class DynamicWeightAverage(PeriodicTaskBalancer):
    """Dynamic Weight Average.

    Args:
        temperature (float): Softmax temperature ``T``. Defaults to 2.0.
        period (int, optional): Update period in training iterations;
            ``None`` means one epoch. Defaults to None.
    """

    def __init__(self,
                 temperature: float = 2.0,
                 period: Optional[int] = None) -> None:
        super().__init__(period=period)
        if not math.isfinite(temperature) or temperature <= 0:
            raise ValueError('DynamicWeightAverage: `temperature` must be '
                             f'positive, got {temperature!r}')
        self.temperature = float(temperature)

    def _period_weights(self,
                        means: torch.Tensor) -> Optional[torch.Tensor]:
        if len(self.period_means) < 2:
            return None
        prev = torch.tensor(self.period_means[-2], dtype=torch.float64)
        ratios = means / prev
        return self.num_tasks * torch.softmax(ratios / self.temperature, 0)
