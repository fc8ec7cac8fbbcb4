"""Optimizer wrappers that turn a step with a non-finite loss into a no-op.

A single bad batch (an empty crop, a degenerate depth map, a float16
overflow) can produce a NaN or infinite loss. Its backward pass would write
NaN into every gradient, and the optimizer step would spread it into the
parameters and the optimizer state, so that every later iteration is lost.
These wrappers skip such a step instead, and leave the model exactly as it
was before the bad batch:

1. ``optim_context`` (entered by ``train_step`` around the forward pass)
   snapshots the model's buffers when ``restore_buffers=True``: the forward
   pass of the bad batch has already updated e.g. the BatchNorm running
   statistics by the time the loss is known. The copy costs about the
   buffers' size (``tools/benchmarks/benchmark_balancers.py``).
2. ``backward`` checks the loss; whether it is finite is reduced over all
   ranks (one ``all_reduce`` of a scalar), so every rank skips together. The
   backward pass still runs, because DDP requires every rank to take part in
   the gradient reduction, but the gradients are put back to their values
   before it and the buffers to the snapshot.
3. ``step`` is suppressed when no valid micro-batch contributed since the
   last step (with ``accumulative_counts > 1`` the valid micro-batches of a
   window still make their step). Zeroing gradients alone would not do:
   AdamW's moments and weight decay, or SGD's momentum, would still move the
   parameters.

The wrappers only skip and count (:attr:`num_skipped`,
:attr:`consecutive_skips`, :attr:`skipped_last`); when a run that keeps
skipping has diverged is decided by
:class:`~mmmtcp.engine.hooks.DivergenceHook`, and
:class:`~mmmtcp.engine.hooks.SafeCheckpointHook` writes no checkpoint at a
skipped iteration. :class:`~mmmtcp.engine.hooks.TaskBalanceHook` leaves the
skipped iteration out of the balancer's statistics.

Select them in the config with ``optim_wrapper=dict(
type='SkipNonFiniteOptimWrapper', ...)`` (or
``'SkipNonFiniteAmpOptimWrapper'``, which ``tools/train.py --amp`` picks
for the former); they take every argument of mmengine's ``OptimWrapper`` /
``AmpOptimWrapper`` plus those below.
"""
import logging
from contextlib import contextmanager
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dist import all_reduce
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmseg.registry import OPTIM_WRAPPERS


class NonFiniteSkipMixin:
    """The skipping behaviour, mixed into an mmengine optimizer wrapper.

    Args:
        restore_buffers (bool): Restore the model's buffers (e.g. BatchNorm
            running statistics) on a skipped micro-batch. Defaults to True.
    """

    def __init__(self, *args, restore_buffers: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(restore_buffers, bool):
            raise ValueError('optim_wrapper.restore_buffers must be a bool, '
                             f'got {restore_buffers!r}')
        self.restore_buffers = restore_buffers
        #: micro-batches skipped in this run
        self.num_skipped = 0
        #: micro-batches skipped in a row, up to the last one
        self.consecutive_skips = 0
        #: whether the last micro-batch was skipped
        self.skipped_last = False
        self._buffer_snapshot: List[Tuple[torch.Tensor, torch.Tensor]] = []
        self._skipped_since_step = False
        self._good_since_step = False

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Snapshot the buffers, then enter the wrapped optimizer wrapper's
        context (gradient synchronization, autocast)."""
        if self.restore_buffers:
            self._buffer_snapshot = [(buf, buf.detach().clone())
                                     for buf in model.buffers()]
        with super().optim_context(model):
            yield

    @staticmethod
    def _finite_on_all_ranks(loss: torch.Tensor) -> bool:
        bad = (~torch.isfinite(loss.detach())).any().to(torch.float32)
        bad = bad.reshape(1)
        all_reduce(bad, op='sum')
        return not bool(bad.item() > 0)

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Back-propagate ``loss``, or, when it is non-finite on any rank,
        run the backward pass and then restore gradients and buffers.

        Args:
            loss (Tensor): The (scaled) loss of the micro-batch.
            **kwargs: Passed to the wrapped ``backward``.
        """
        if self._finite_on_all_ranks(loss):
            super().backward(loss, **kwargs)
            self._good_since_step = True
            self.skipped_last = False
            self.consecutive_skips = 0
            return
        params = [
            p for group in self.optimizer.param_groups
            for p in group['params']
        ]
        saved = [
            None if p.grad is None else p.grad.detach().clone()
            for p in params
        ]
        super().backward(loss, **kwargs)
        with torch.no_grad():
            for p, grad in zip(params, saved):
                if grad is None:
                    p.grad = None
                elif p.grad is None:
                    p.grad = grad
                else:
                    p.grad.copy_(grad)
            # after backward: autograd checks the buffers' versions
            for buf, snapshot in self._buffer_snapshot:
                buf.copy_(snapshot)
        self._skipped_since_step = True
        self.skipped_last = True
        self.consecutive_skips += 1
        self.num_skipped += 1

    def step(self, **kwargs) -> None:
        """Step the optimizer unless every micro-batch since the last step
        was skipped.

        Args:
            **kwargs: Passed to the wrapped ``step``.
        """
        if self._skipped_since_step and not self._good_since_step:
            print_log(
                f'{type(self).__name__}: optimizer step skipped (non-finite '
                'loss; no valid micro-batch since the last step).',
                logger='current',
                level=logging.WARNING)
        else:
            super().step(**kwargs)
        self._skipped_since_step = False
        self._good_since_step = False


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(NonFiniteSkipMixin, OptimWrapper):
    """mmengine's ``OptimWrapper`` that skips steps with a non-finite loss
    (see the module docstring).

    Args:
        optimizer (Optimizer): The optimizer.
        restore_buffers (bool): Restore the model's buffers on a skipped
            micro-batch. Defaults to True.
        **kwargs: ``accumulative_counts``, ``clip_grad`` of
            ``OptimWrapper``.
    """


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(NonFiniteSkipMixin, AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` that skips steps with a non-finite
    loss (see the module docstring). The gradient scaler's own skipping of
    steps with overflowing *gradients* is unchanged.

    Args:
        optimizer (Optimizer): The optimizer.
        restore_buffers (bool): Restore the model's buffers on a skipped
            micro-batch. Defaults to True.
        **kwargs: ``loss_scale``, ``dtype``, ``accumulative_counts``,
            ``clip_grad`` of ``AmpOptimWrapper``.
    """


def wrappers_of(optim_wrapper: Optional[object]) -> list:
    """The optimizer wrappers of ``runner.optim_wrapper``: the values of an
    ``OptimWrapperDict``, else the wrapper itself.

    Args:
        optim_wrapper (object, optional): ``runner.optim_wrapper``.

    Returns:
        list: The wrappers.
    """
    values = getattr(optim_wrapper, 'values', None)
    if callable(values) and not isinstance(optim_wrapper, NonFiniteSkipMixin):
        return list(values())
    return [optim_wrapper]


def is_skipping(optim_wrapper: Optional[object]) -> bool:
    """Whether an optimizer wrapper (or every wrapper of an
    ``OptimWrapperDict``) skips non-finite steps.

    Args:
        optim_wrapper (object, optional): ``runner.optim_wrapper``.

    Returns:
        bool: True when it is a :class:`NonFiniteSkipMixin`, or a dict of
        them.
    """
    wrappers = wrappers_of(optim_wrapper)
    return bool(wrappers) and all(
        isinstance(w, NonFiniteSkipMixin) for w in wrappers)
