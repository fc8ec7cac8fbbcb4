"""Fixed per-task loss weights, the usual multi-task baseline.

Every task loss is multiplied by a constant weight given in the config; tasks
not listed use ``default``.
"""
from typing import Dict, Optional

import torch

from mmseg.registry import MODELS
from .base_balancer import BaseTaskBalancer


@MODELS.register_module()
class FixedTaskWeights(BaseTaskBalancer):
    """Constant task weights.

    Args:
        weights (dict[str, float], optional): Weight per task name. Names
            that are not tasks of the model raise an error at the first
            iteration. Defaults to None (all tasks use ``default``).
        default (float): Weight of tasks missing from ``weights``.
            Defaults to 1.0.
    """

    def __init__(self,
                 weights: Optional[Dict[str, float]] = None,
                 default: float = 1.0) -> None:
        super().__init__()
        weights = dict(weights or {})
        for task, weight in list(weights.items()) + [('default', default)]:
            if not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(
                    f'FixedTaskWeights: weight of {task!r} must be a '
                    f'non-negative number, got {weight!r}')
        self.weights = {k: float(v) for k, v in weights.items()}
        self.default = float(default)
        self._weights: Optional[torch.Tensor] = None

    def _init_state(self) -> None:
        unknown = sorted(set(self.weights) - set(self.tasks))
        if unknown:
            raise ValueError(
                f'FixedTaskWeights: `weights` names {unknown}, which are not '
                f'tasks of the loss dict; the tasks are {self.tasks}.')
        self._weights = torch.tensor(
            [self.weights.get(t, self.default) for t in self.tasks],
            dtype=torch.float64)

    def current_weights(self) -> torch.Tensor:
        return self._weights
