"""Stop a training run that has diverged, and say so.

A run whose learning rate is far too high does not always produce NaN: its
loss can grow to 1e8 while every tensor stays finite, and the run then
trains to the end, exits 0 and leaves finite garbage as its checkpoints. A
run whose loss is NaN at every iteration, with a wrapper that skips
non-finite steps, would skip forever. :class:`DivergenceHook` turns both
into an error, after each training iteration and before the checkpoint hook
(``priority='ABOVE_NORMAL'``, the checkpoint hook is ``'VERY_LOW'``), so no
checkpoint is written from the divergent iteration on:

- **Non-finite**: a loss entry of the iteration (``log_vars`` keys matching
  ``keys``) is NaN or infinite. With an optimizer wrapper that skips
  non-finite steps (:class:`~mmmtcp.engine.SkipNonFiniteOptimWrapper`) the
  iteration was a no-op, and up to ``max_consecutive_skips`` such
  iterations in a row only give a warning; the next one stops the run.
  With any other wrapper the step has already written NaN into the
  parameters, and the run stops at once.
- **Finite blow-up**: the sum of the loss entries except the total
  ``loss`` (the raw terms, always positive for the losses of mmseg and
  mmmtcp, unlike a balanced total such as uncertainty weighting's) is
  larger than ``factor`` times its running median over the last ``window``
  finite iterations, once ``min_history`` of them are known.

The loss of an iteration judges the weights that the previous step
produced, so the checkpoint written after that step (if any) already holds
diverged weights: it is renamed ``<name>.diverged`` and ``last_checkpoint``
is pointed at the checkpoint before it, which ``--resume`` then takes. The
run stops with a :class:`DivergenceError` naming the iteration, every loss
term with its running median, the checkpoint set aside and the last good
one; ``tools/train.py`` then exits with a non-zero status. Both flags are reduced over all ranks, so every rank stops
at the same iteration.
"""
import logging
import math
import os
import os.path as osp
import re
from collections import deque
from statistics import median
from typing import Deque, Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import HOOKS
from ..atomic_local_backend import atomic_write
from ..optimizers import is_skipping


class DivergenceError(RuntimeError):
    """Raised when a training run has diverged."""


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean().item())
    return float(value)


@HOOKS.register_module()
class DivergenceHook(Hook):
    """Stop a training run whose loss has blown up or stays non-finite.

    Args:
        factor (float): The run has diverged when the sum of its loss terms
            exceeds ``factor`` times its running median. Defaults to 20.
        window (int): Finite iterations in the running median. Defaults
            to 100.
        min_history (int): Finite iterations needed before the ratio test
            applies (the first iteration is never tested). Defaults to 1.
        max_consecutive_skips (int): Non-finite iterations in a row that
            an optimizer wrapper skipping such steps may skip before the run
            stops. Defaults to 3.
        keys (str): Regular expression (searched) of the ``log_vars``
            entries that are losses. Defaults to ``'loss'``.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 factor: float = 20.0,
                 window: int = 100,
                 min_history: int = 1,
                 max_consecutive_skips: int = 3,
                 keys: str = 'loss') -> None:
        if not (isinstance(factor, (int, float)) and factor > 1):
            raise ValueError('DivergenceHook: `factor` must be a number > 1, '
                             f'got {factor!r}')
        for name, value, low in (('window', window, 1),
                                 ('min_history', min_history, 1),
                                 ('max_consecutive_skips',
                                  max_consecutive_skips, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f'DivergenceHook: `{name}` must be an int '
                                 f'>= {low}, got {value!r}')
        if min_history > window:
            raise ValueError(
                f'DivergenceHook: `min_history` ({min_history}) must not '
                f'exceed `window` ({window})')
        self.factor = float(factor)
        self.window = window
        self.min_history = min_history
        self.max_consecutive_skips = max_consecutive_skips
        self.keys = re.compile(keys)
        self._history: Deque[float] = deque(maxlen=window)
        self._term_history: Dict[str, Deque[float]] = {}
        self._streak = 0
        self._streak_start = 0
        # `last_ckpt` as seen after the previous good iteration, and the
        # good / suspect checkpoints of the current divergence
        self._seen_before: Optional[str] = None
        self._good_ckpt: Optional[str] = None
        self._suspect_ckpt: Optional[str] = None

    # ------------------------------------------------------------------
    def _terms(self, outputs: Optional[dict]) -> Dict[str, float]:
        if not isinstance(outputs, dict):
            return {}
        return {
            k: _as_float(v)
            for k, v in outputs.items() if self.keys.search(k)
            and isinstance(v, (torch.Tensor, float, int))
        }

    @staticmethod
    def _any_rank(flags: Sequence[bool]) -> list:
        tensor = torch.tensor([float(f) for f in flags])
        all_reduce(tensor, op='sum')
        return [bool(v > 0) for v in tensor.tolist()]

    def _describe(self, terms: Dict[str, float]) -> str:
        parts = []
        for key, value in terms.items():
            hist = self._term_history.get(key)
            med = (f' (median {median(hist):.4g})' if hist else '')
            parts.append(f'{key}={value:.4g}{med}')
        return ', '.join(parts) if parts else 'none on this rank'

    def _set_aside(self, runner) -> str:
        """Set aside the checkpoint written from the weights of the step
        that diverged, point ``last_checkpoint`` at the last good one, and
        describe both."""
        good, suspect = self._good_ckpt, self._suspect_ckpt
        text = ''
        if good is not None and not osp.isfile(good):
            text = (f'{good}, the checkpoint before it, was removed by the '
                    'rotation (keep max_keep_ckpts >= 2 to have one); ')
            good = None
        if suspect is not None and suspect != good and is_main_process() \
                and osp.isfile(suspect):
            aside = f'{suspect}.diverged'
            os.replace(suspect, aside)
            text += (f'{suspect} holds the weights of the step that '
                     f'diverged and is set aside as {aside}; ')
            pointer = osp.join(runner.work_dir, 'last_checkpoint')
            if osp.isfile(pointer):
                with open(pointer) as f:
                    named = f.read().strip()
                if osp.abspath(named) == osp.abspath(suspect):
                    if good is None:
                        os.remove(pointer)
                    else:
                        atomic_write(pointer, good)
        if good is None:
            return text + 'no good checkpoint has been written in this run'
        return text + f'the last good checkpoint is {good}'

    def _stop(self, runner, what: str, terms: Dict[str, float]) -> None:
        checkpoints = self._set_aside(runner)
        then = ('start the run again' if checkpoints.endswith(
            'no good checkpoint has been written in this run') else
                'resume from that checkpoint (tools/train.py CONFIG '
                '--resume PATH)')
        raise DivergenceError(
            f'DivergenceHook: training diverged at iteration '
            f'{runner.iter + 1}: {what}. Loss terms: {self._describe(terms)}'
            f'. Training stops; no checkpoint is written from this '
            f'iteration on; {checkpoints}. Lower the learning rate '
            '(optim_wrapper.optimizer.lr) or clip gradients '
            f'(optim_wrapper.clip_grad) and {then}.')

    # ------------------------------------------------------------------
    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        terms = self._terms(outputs)
        raw = {k: v for k, v in terms.items() if k != 'loss'} or terms
        nonfinite = [k for k, v in terms.items() if not math.isfinite(v)]
        total = sum(raw.values())
        ratio_bad = (
            not nonfinite and len(self._history) >= self.min_history
            and median(self._history) > 0
            and total > self.factor * median(self._history))
        any_nonfinite, any_blowup = self._any_rank(
            [bool(nonfinite), ratio_bad])
        # the loss of this iteration judges the weights of the previous
        # step: the checkpoint seen now (saved up to the previous
        # iteration) is suspect, the one seen an iteration ago is good
        seen = runner.message_hub.get_info('last_ckpt')
        if (any_nonfinite and not self._streak) or any_blowup:
            self._good_ckpt, self._suspect_ckpt = self._seen_before, seen
        if any_nonfinite:
            if not self._streak:
                self._streak_start = runner.iter + 1
            self._streak += 1
            where = (f'non-finite {nonfinite}' if nonfinite else
                     'non-finite loss on another rank')
            if not is_skipping(runner.optim_wrapper):
                self._stop(
                    runner, f'{where}; the optimizer wrapper '
                    f'({type(runner.optim_wrapper).__name__}) has applied '
                    'the step (SkipNonFiniteOptimWrapper would have skipped '
                    'it)', terms)
            if self._streak > self.max_consecutive_skips:
                self._stop(
                    runner, f'{where} in {self._streak} consecutive '
                    f'iterations ({self._streak_start}-{runner.iter + 1}; '
                    f'max_consecutive_skips={self.max_consecutive_skips})',
                    terms)
            print_log(
                f'DivergenceHook: {where} at iteration {runner.iter + 1}; '
                f'the step was skipped ({self._streak} in a row of at most '
                f'{self.max_consecutive_skips}).',
                logger='current',
                level=logging.WARNING)
            return
        if any_blowup:
            what = (f'the sum of the loss terms is {total:.4g}, '
                    f'{total / median(self._history):.3g}x its running '
                    f'median {median(self._history):.4g} (factor='
                    f'{self.factor:g})' if ratio_bad else
                    'the loss blew up on another rank')
            self._stop(runner, what, terms)
        self._streak = 0
        self._seen_before = seen
        self._history.append(total)
        for key, value in terms.items():
            self._term_history.setdefault(
                key, deque(maxlen=self.window)).append(value)
