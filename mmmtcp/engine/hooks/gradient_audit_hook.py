"""Hook that audits the per-loss gradients on the shared trunk during
training (see :mod:`mmmtcp.engine.gradient_audit`).

Usage in a config::

    custom_hooks = [dict(type='GradientAuditHook', interval=50)]

Every audit logs scalars through the message hub (they reach the text log
and every visualization backend at the logger's next output) and appends
one JSON line to ``<log_dir>/grad_audit.jsonl``, which
``tools/analysis_tools/analyze_gradients.py`` summarizes and plots.
"""
import json
import math
import os.path as osp
from typing import Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmseg.registry import HOOKS
from ..gradient_audit import (audit_gradients, audit_record, scalar_name,
                              select_parameters)


@HOOKS.register_module()
class GradientAuditHook(Hook):
    """Measure the gradient of every loss term on the trunk parameters.

    The audit runs in ``before_train_iter``, on the iteration's own batch
    and with the weights this iteration's optimizer step starts from: the
    first audit (``first=True``) measures the model at initialization (or
    at the loaded checkpoint), and every audit measures the gradients the
    step is about to take, not those of a batch it has already been
    updated on. Audited iterations: the first one (with ``first``) and
    every ``interval``-th (iterations ``interval``, ``2 * interval``, ...
    counted from 1 as in the logs). It costs one forward pass and one
    backward pass per loss term, and changes nothing of the training: the
    parameters' ``.grad``, the RNG states and the model's buffers are left
    or restored as they were (:func:`~mmmtcp.engine.gradient_audit.
    audit_gradients`), so a run with the hook trains to bit-identical
    weights.

    Logged (``runner.message_hub.update_scalar``), no key containing
    ``'loss'`` (mmseg's ``parse_losses`` and the log processor would treat
    it as a loss):

    - ``train/gradnorm_<term>``: gradient norm of each term, ``<term>`` the
      loss key without ``loss_`` (``gradnorm_semseg``,
      ``gradnorm_semseg_aux0``, ``gradnorm_contrast_depth``);
    - ``train/grad_side_main_ratio``, ``train/grad_side_main_cos``:
      ``|g_side| / |g_main|`` of the summed side and main terms and their
      cosine; ``train/grad_side_main_ratio_<task>`` and
      ``train/grad_side_main_cos_<task>`` per task.

    Non-finite values (a cosine with a zero gradient, a ratio without main
    terms) are not logged; the JSON line holds them as ``null``.

    Each audit appends one line to ``<runner.log_dir>/<out_file>``: the
    iteration (1-based) and the full result (terms, kinds, tasks, norms,
    the cosine matrix as nested lists, group and per-task summaries).

    Distributed training: every rank audits its own batch at the same
    iterations (the forward pass may hold collectives, e.g. SyncBN); the
    scalars are each rank's own (the logger prints rank 0's) and only rank
    0 writes the JSON lines, so they describe rank 0's batches.

    Args:
        interval (int): Audit every ``interval`` iterations. Defaults to 50.
        param_prefixes (Sequence[str]): Qualified-name prefixes of the
            audited (shared) parameters. Defaults to
            ``('backbone', 'neck')``; a prefix that matches nothing is
            skipped when others match (a model without neck).
        first (bool): Also audit the first iteration of the run (of the
            resumed run when resuming). Defaults to True.
        max_terms (int, optional): See ``audit_gradients``. Defaults to
            None (all terms).
        out_file (str): Name of the JSON-lines file in ``runner.log_dir``.
            Defaults to ``'grad_audit.jsonl'``.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 50,
                 param_prefixes: Sequence[str] = ('backbone', 'neck'),
                 first: bool = True,
                 max_terms: Optional[int] = None,
                 out_file: str = 'grad_audit.jsonl') -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError('GradientAuditHook: `interval` must be a '
                             f'positive int, got {interval!r}')
        if isinstance(param_prefixes, str):
            param_prefixes = (param_prefixes, )
        if not param_prefixes or not all(
                isinstance(p, str) and p for p in param_prefixes):
            raise ValueError('GradientAuditHook: `param_prefixes` must be a '
                             'non-empty list of parameter name prefixes, '
                             f'got {param_prefixes!r}')
        if max_terms is not None and (not isinstance(max_terms, int)
                                      or max_terms < 1):
            raise ValueError('GradientAuditHook: `max_terms` must be a '
                             f'positive int or None, got {max_terms!r}')
        self.interval = interval
        self.param_prefixes = tuple(param_prefixes)
        self.first = first
        self.max_terms = max_terms
        self.out_file = out_file
        self._first_iter: Optional[int] = None

    def before_train(self, runner) -> None:
        """Check ``param_prefixes`` before the first iteration."""
        select_parameters(runner.model, self.param_prefixes)
        self._first_iter = runner.iter

    def _due(self, runner) -> bool:
        if self.first and runner.iter == self._first_iter:
            return True
        return self.every_n_train_iters(runner, self.interval)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Audit the iteration's batch when it is due."""
        if data_batch is None or not self._due(runner):
            return
        result = audit_gradients(runner.model, data_batch,
                                 self.param_prefixes, self.max_terms)
        self._log_scalars(runner, result)
        if is_main_process():
            record = audit_record(result, runner.iter + 1)
            with open(osp.join(runner.log_dir, self.out_file), 'a') as f:
                f.write(json.dumps(record) + '\n')

    @staticmethod
    def _log_scalars(runner, result: dict) -> None:
        scalars = {
            f'gradnorm_{scalar_name(term)}': norm
            for term, norm in result['norms'].items()
        }
        scalars['grad_side_main_ratio'] = result['side_main_ratio']
        scalars['grad_side_main_cos'] = result['side_main_cos']
        for task, summary in result['tasks'].items():
            name = scalar_name(task)
            if summary['side_terms']:
                scalars[f'grad_side_main_ratio_{name}'] = summary[
                    'side_main_ratio']
                scalars[f'grad_side_main_cos_{name}'] = summary[
                    'side_main_cos']
        for key, value in scalars.items():
            if math.isfinite(value):
                runner.message_hub.update_scalar(f'train/{key}', value)
