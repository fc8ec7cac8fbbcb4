"""Base classes of the task balancers used by :class:`TaskBalanceHook`.

A balancer turns the per-task losses of one training iteration into the
scalar that is back-propagated. The hook calls, every iteration:

1. ``project(losses)``: an optional element-wise transform of the task
   losses (identity here; the log-scale projection of LPS);
2. ``combine(projected, reduced)``: the total loss; ``reduced`` holds the
   detached projected losses averaged over all ranks, so every rank sees the
   same statistics;
3. ``update(reduced)``: per-iteration statistics (``None`` when the
   iteration was skipped because a loss was not finite).

All statistics are kept in float64 on the CPU, which makes them identical on
every rank and exactly reproducible after resuming from a checkpoint.
"""
import logging
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log


class BaseTaskBalancer(nn.Module, metaclass=ABCMeta):
    """Base class of task balancers.

    Subclasses implement :meth:`current_weights` and may override
    :meth:`project`, :meth:`combine`, :meth:`update` and the state methods.

    Attributes:
        tasks (list[str]): Task names, set once by :meth:`init_tasks`.
        needs_tasks_before_run (bool): Whether the task list must be known
            before training starts (balancers with learnable parameters,
            which have to be added to the optimizer before resuming).
    """

    needs_tasks_before_run = False

    def __init__(self) -> None:
        super().__init__()
        self.tasks: List[str] = []

    @property
    def num_tasks(self) -> int:
        """Number of tasks."""
        return len(self.tasks)

    @property
    def initialized(self) -> bool:
        """Whether :meth:`init_tasks` has been called."""
        return bool(self.tasks)

    def init_tasks(self, tasks: Sequence[str]) -> None:
        """Set the task list and create the per-task state.

        Args:
            tasks (Sequence[str]): Task names in a fixed order.
        """
        tasks = list(tasks)
        if not tasks:
            raise ValueError(f'{type(self).__name__} needs at least one task')
        if self.initialized:
            if tasks != self.tasks:
                raise ValueError(
                    f'{type(self).__name__} was set up for tasks '
                    f'{self.tasks} but the losses now have tasks {tasks}')
            return
        self.tasks = tasks
        self._init_state()

    def _init_state(self) -> None:
        """Create per-task state once :attr:`tasks` is known."""

    def project(self, losses: torch.Tensor) -> torch.Tensor:
        """Transform the task losses before weighting (identity).

        Args:
            losses (Tensor): Task losses, shape ``(T,)``, with gradient.

        Returns:
            Tensor: The transformed losses, shape ``(T,)``.
        """
        return losses

    @abstractmethod
    def current_weights(self) -> torch.Tensor:
        """The weights used in the current iteration, float64 ``(T,)``."""

    def combine(self, losses: torch.Tensor,
                reduced: torch.Tensor) -> torch.Tensor:
        """Weighted sum of the (projected) task losses.

        Args:
            losses (Tensor): Projected task losses of this rank, ``(T,)``.
            reduced (Tensor): Detached projected task losses averaged over
                ranks, float64 ``(T,)`` on the CPU.

        Returns:
            Tensor: Scalar loss to back-propagate.
        """
        weights = self.current_weights().to(losses)
        return (weights * losses).sum()

    def logged_weights(self) -> torch.Tensor:
        """Effective per-task multipliers to log, float64 ``(T,)``."""
        return self.current_weights().detach().double().cpu()

    def update(self, reduced: Optional[torch.Tensor]) -> None:
        """Accumulate the statistics of one iteration.

        Args:
            reduced (Tensor | None): Detached projected task losses averaged
                over ranks, float64 ``(T,)``; ``None`` for a skipped
                iteration.
        """

    def get_state(self) -> dict:
        """State to store in checkpoints (plain Python values and tensors).

        Returns:
            dict: The state.
        """
        return dict(tasks=list(self.tasks))

    def set_state(self, state: dict) -> None:
        """Restore a state produced by :meth:`get_state`.

        Args:
            state (dict): The state.
        """
        self.init_tasks(state['tasks'])


class PeriodicTaskBalancer(BaseTaskBalancer):
    """Balancer whose weights change at the end of fixed update periods.

    The mean of each task's (projected, rank-averaged) loss over a period of
    ``period`` training iterations is handed to :meth:`_period_weights`,
    whose result is used from the next iteration on. Iterations skipped for
    non-finite losses count towards the period but not towards the means.

    Args:
        period (int, optional): Length of the update period in training
            iterations (not optimizer steps: with gradient accumulation each
            micro-batch is one iteration). ``None`` lets
            :class:`TaskBalanceHook` use one epoch, ``len(train_dataloader)``.
    """

    def __init__(self, period: Optional[int] = None) -> None:
        super().__init__()
        if period is not None and (not isinstance(period, int)
                                   or period < 1):
            raise ValueError(f'`period` must be a positive int or None, got '
                             f'{period!r}')
        self.period = period
        self.iters = 0
        self.num_periods = 0
        self._sums: Optional[torch.Tensor] = None
        self._count = 0
        self._weights: Optional[torch.Tensor] = None
        self.period_means: List[List[float]] = []
        self.history: List[Dict] = []

    def _init_state(self) -> None:
        self._sums = torch.zeros(self.num_tasks, dtype=torch.float64)
        self._weights = torch.ones(self.num_tasks, dtype=torch.float64)

    def current_weights(self) -> torch.Tensor:
        return self._weights

    def update(self, reduced: Optional[torch.Tensor]) -> None:
        if self.period is None:
            raise RuntimeError(
                f'{type(self).__name__}.period is not set; give `period` in '
                'the balancer config or train with TaskBalanceHook, which '
                'defaults it to len(train_dataloader).')
        self.iters += 1
        if reduced is not None:
            self._sums += reduced.detach().double().cpu()
            self._count += 1
        if self.iters % self.period:
            return
        self.num_periods += 1
        if self._count == 0:
            print_log(
                f'{type(self).__name__}: every iteration of update period '
                f'{self.num_periods} was skipped; the weights stay '
                f'{self._weights.tolist()}.',
                logger='current',
                level=logging.WARNING)
        else:
            means = self._sums / self._count
            self.period_means.append(means.tolist())
            weights = self._period_weights(means)
            if weights is not None:
                weights = weights.double()
                if bool(torch.isfinite(weights).all()) and float(
                        weights.sum()) > 0:
                    self._weights = weights
                else:
                    print_log(
                        f'{type(self).__name__}: the weights computed at the '
                        f'end of update period {self.num_periods} '
                        f'({weights.tolist()}) are not finite or all zero; '
                        f'keeping {self._weights.tolist()}.',
                        logger='current',
                        level=logging.WARNING)
        self.history.append(
            dict(iter=self.iters, weights=self._weights.tolist()))
        self._sums.zero_()
        self._count = 0

    @abstractmethod
    def _period_weights(self,
                        means: torch.Tensor) -> Optional[torch.Tensor]:
        """Weights for the next period from this period's mean losses.

        Args:
            means (Tensor): Mean loss per task over the period, float64.

        Returns:
            Tensor | None: New weights, or ``None`` to keep the current ones.
        """

    def get_state(self) -> dict:
        state = super().get_state()
        state.update(
            period=self.period,
            iters=self.iters,
            num_periods=self.num_periods,
            sums=None if self._sums is None else self._sums.tolist(),
            count=self._count,
            weights=None
            if self._weights is None else self._weights.tolist(),
            period_means=[list(m) for m in self.period_means],
            history=[dict(h) for h in self.history])
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        if self.period is None:
            self.period = state['period']
        elif state['period'] is not None and state['period'] != self.period:
            print_log(
                f'{type(self).__name__}: the checkpoint used period '
                f'{state["period"]}, the config sets {self.period}; using '
                f'{self.period}.',
                logger='current',
                level=logging.WARNING)
        self.iters = int(state['iters'])
        self.num_periods = int(state['num_periods'])
        self._sums = torch.tensor(state['sums'], dtype=torch.float64)
        self._count = int(state['count'])
        self._weights = torch.tensor(state['weights'], dtype=torch.float64)
        self.period_means = [list(m) for m in state['period_means']]
        self.history = [dict(h) for h in state['history']]

