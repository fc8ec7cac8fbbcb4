"""Homoscedastic uncertainty weighting.

"Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry
and Semantics", Kendall, Gal, Cipolla, CVPR 2018.

Each task ``t`` has a learnable log-variance ``s_t = log(sigma_t^2)``. The
paper's objective (its Eq. 7, written with ``s_t``) is

    regression (Gaussian likelihood):       0.5 * exp(-s_t) * L_t + 0.5 * s_t
    classification (softmax likelihood):        exp(-s_t) * L_t + 0.5 * s_t

With ``paper_factors=False`` every task uses the widespread simplification
``exp(-s_t) * L_t + s_t``. Task kinds come from mmmtcp's task vocabulary
(depth and normals are regressions, label and mask tasks classifications);
other task names (e.g. ``decode`` of a plain mmseg model) default to
classification and can be set with ``task_kinds``.

Distributed training: the log-variances are not part of the DDP-wrapped
model, so their gradients are not averaged by DDP. They are instead computed
from the task losses averaged over all ranks (detached), which gives every
rank the same gradient, equal to the average of the per-rank gradients. The
model's gradient still comes from the rank's own losses, scaled by the
(detached) precision. The loss value is the paper's objective on the rank's
own losses.
"""
from typing import Dict, Optional

import torch
import torch.nn as nn

from mmseg.registry import MODELS
from mmmtcp.tasks import TASKS
from .base_balancer import BaseTaskBalancer

#: the factor of the task loss under each likelihood (the paper's Eq. 7)
_FACTORS = dict(regression=0.5, classification=1.0)
_KINDS = tuple(_FACTORS)


@MODELS.register_module()
class UncertaintyWeighting(BaseTaskBalancer):
    """Uncertainty weighting with learnable per-task log-variances.

    :class:`TaskBalanceHook` adds :attr:`log_vars` to the runner's optimizer
    as an extra parameter group before any checkpoint is resumed, so their
    optimizer state is saved and restored with the model's.

    Args:
        init_log_var (float): Initial ``s_t``. Defaults to 0.0.
        paper_factors (bool): Use the paper's 1/2 factors (see module
            docstring). Defaults to True.
        task_kinds (dict[str, str], optional): ``'regression'`` or
            ``'classification'`` per task, overriding the defaults.
        param_group (dict, optional): Options of the optimizer parameter
            group of the log-variances (e.g. ``lr``). Defaults to
            ``dict(weight_decay=0.0)``; a missing ``lr`` takes the
            optimizer's default learning rate.
    """

    needs_tasks_before_run = True

    def __init__(self,
                 init_log_var: float = 0.0,
                 paper_factors: bool = True,
                 task_kinds: Optional[Dict[str, str]] = None,
                 param_group: Optional[dict] = None) -> None:
        super().__init__()
        self.init_log_var = float(init_log_var)
        self.paper_factors = paper_factors
        self.task_kinds = dict(task_kinds or {})
        for task, kind in self.task_kinds.items():
            if kind not in _KINDS:
                raise ValueError(
                    f'UncertaintyWeighting: task_kinds[{task!r}] must be one '
                    f'of {_KINDS}, got {kind!r}')
        self.param_group = dict(weight_decay=0.0)
        self.param_group.update(param_group or {})
        if 'params' in self.param_group:
            raise ValueError('UncertaintyWeighting: `param_group` must not '
                             'contain "params"')
        self.log_vars: Optional[nn.Parameter] = None

    def _likelihood(self, task: str) -> str:
        """``'regression'`` or ``'classification'``: ``task_kinds`` if it
        names the task, else from the task's vocabulary entry."""
        if task in self.task_kinds:
            return self.task_kinds[task]
        spec = TASKS.get(task)
        return 'classification' if spec is None or spec.is_label \
            else 'regression'

    def _init_state(self) -> None:
        unknown = sorted(set(self.task_kinds) - set(self.tasks))
        if unknown:
            raise ValueError(
                f'UncertaintyWeighting: `task_kinds` names {unknown}, which '
                f'are not tasks of the loss dict; the tasks are {self.tasks}.')
        self.log_vars = nn.Parameter(
            torch.full((self.num_tasks, ), self.init_log_var))
        if self.paper_factors:
            scale = [_FACTORS[self._likelihood(t)] for t in self.tasks]
            reg = [0.5] * self.num_tasks
        else:
            scale = [1.0] * self.num_tasks
            reg = [1.0] * self.num_tasks
        self.register_buffer(
            'loss_scale', torch.tensor(scale), persistent=False)
        self.register_buffer('reg_scale', torch.tensor(reg), persistent=False)

    def current_weights(self) -> torch.Tensor:
        return self.loss_scale * torch.exp(-self.log_vars)

    def combine(self, losses: torch.Tensor,
                reduced: torch.Tensor) -> torch.Tensor:
        log_vars = self.log_vars.to(losses.dtype)
        precision = self.loss_scale.to(losses) * torch.exp(-log_vars)
        reduced = reduced.to(losses)
        # value: sum_t c_t exp(-s_t) L_t + r_t s_t on this rank's losses;
        # d/dmodel: c_t exp(-s_t) dL_t; d/ds_t: from the rank-averaged losses.
        model_term = precision.detach() * (losses - reduced)
        sigma_term = precision * reduced + self.reg_scale.to(losses) * log_vars
        return (model_term + sigma_term).sum()

    def get_state(self) -> dict:
        state = super().get_state()
        state['log_vars'] = self.log_vars.detach().cpu().tolist()
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        with torch.no_grad():
            self.log_vars.copy_(
                torch.tensor(state['log_vars'], dtype=self.log_vars.dtype))
