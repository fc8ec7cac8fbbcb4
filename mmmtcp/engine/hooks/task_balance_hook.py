"""Hook that balances the per-task losses of a multi-task model.

Used for the Loss Prioritization Scheme of MT-CP ("Optimizing Dense Visual
Predictions Through Multi-Task Coherence and Prioritization", Fontana,
Spratling, Shi, WACV 2025) and for the usual alternatives (fixed weights,
uncertainty weighting, DWA), selected by one config key.

Design: the hook replaces, on the *unwrapped* model instance, the method
``parse_losses`` by a balanced version. ``BaseModel.train_step`` and
``MMDistributedDataParallel.train_step`` (which re-implements the step and
never calls the model's ``train_step``) both call ``module.parse_losses``, so
one mechanism serves single-process and DDP training, and any mmseg
segmentor works without changing the model or the optimizer wrapper config.
A custom OptimWrapper was not chosen because it only sees the summed loss,
not the loss dict, and a custom ``train_step`` would be bypassed by DDP.

Everything is installed in ``before_run``, which mmengine calls after
building the optimizer wrapper and *before* ``load_or_resume``; so the
learnable parameters of :class:`UncertaintyWeighting` join the optimizer
before its state is restored, and the balancer state is restored by
``after_load_checkpoint`` (only when resuming; ``load_from`` fine-tuning
starts balancing afresh).

Per iteration the balanced ``parse_losses``:

1. calls the model's own ``parse_losses`` for the per-entry means and log
   values (so its conventions are kept) and groups the entries into tasks
   (:class:`LossGrouper`);
2. reduces the detached (projected) task losses and non-finite flags over
   all ranks with one ``mmengine.dist.all_reduce``, so every rank computes
   identical statistics and weights;
3. builds the total with the balancer and adds ``weight_<task>`` entries to
   ``log_vars``; they contain no ``'loss'`` (parse_losses and the log
   processor would sum them otherwise) and reach the text log and every
   visualization backend (e.g. TensorBoard) at each logger interval
   through the message hub;
4. updates the balancer statistics. Statistics are per *iteration*: with
   gradient accumulation (``accumulative_counts``) every micro-batch counts;
   under AMP the losses are cast to float32 first.

Non-finite task losses (NaN/inf on any rank) never enter the statistics and
produce a warning naming the task. What happens to the step is not this
hook's job: with ``nan_policy='skip'`` the optimizer wrapper skips it
(:class:`~mmmtcp.engine.SkipNonFiniteOptimWrapper`, required then), and
:class:`~mmmtcp.engine.hooks.DivergenceHook` stops a run that keeps
skipping; ``nan_policy='stop'`` raises a ``RuntimeError`` naming task and
iteration. The default, ``'auto'``, is ``'skip'`` when the run's optimizer
wrapper skips non-finite steps and ``'stop'`` otherwise.
"""
import logging
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import BaseOptimWrapper, OptimWrapper

from mmseg.registry import HOOKS, MODELS
from ..balancers import BaseTaskBalancer, LossGrouper, PeriodicTaskBalancer
from ..optimizers import is_skipping


@HOOKS.register_module()
class TaskBalanceHook(Hook):
    """Weight the task losses of a multi-task model with a task balancer.

    Args:
        balancer (dict | BaseTaskBalancer): The balancer or its config, e.g.
            ``dict(type='LossPrioritization', spread=7.5)``.
        task_keys (dict[str, str | list[str]], optional): Task name to
            regular expression(s) selecting its loss entries. ``None``
            groups automatically: ``loss_<task>`` and ``loss_<task>_aux*``
            form task ``<task>``; ``<prefix>.<name>`` entries (mmseg's
            ``decode.loss_ce``, ``aux.loss_ce``) form task ``<prefix>``.
        fixed_keys (str | list[str], optional): Regular expression(s) of
            loss entries added with weight 1 and not balanced. Defaults to
            the contrastive regularization, ``r'(^|\\.)loss_contrast'``;
            ``None`` balances every entry.
        side_losses (str): Where the side (deep-supervision) losses of a
            task, the entries matching ``side_keys``, go. ``'outside'``
            (default, the reference training loop): they are added raw to
            the total, outside the balancer's projection (e.g. the log of
            LPS) and task weight, and do not enter its statistics (the head
            has already multiplied them by its ``side_loss_weight``).
            ``'inside'``: they are summed into their task's loss before the
            projection and weighting, and count in its statistics.
        side_keys (str | list[str]): Regular expression(s) of the side loss
            entries. Defaults to ``r'_aux\d*$'`` (``loss_<task>_aux<i>``,
            the entries of :class:`MultiTaskSegmentor`); mmseg's
            ``aux.loss_ce`` of an auxiliary head does not match and stays a
            task of its own.
        nan_policy (str): ``'auto'``, ``'skip'`` or ``'stop'``, see the
            module docstring. ``'skip'`` needs an optimizer wrapper that
            skips non-finite steps (``optim_wrapper.type=
            'SkipNonFiniteOptimWrapper'``). Defaults to ``'auto'``.
        ckpt_key (str): Checkpoint key of the balancer state.
            Defaults to ``'task_balancer'``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 balancer: Union[dict, BaseTaskBalancer],
                 task_keys: Optional[Dict[str, Union[str, List[str]]]] = None,
                 fixed_keys: Optional[Union[str, List[str]]] = (
                     r'(^|\.)loss_contrast'),
                 side_losses: str = 'outside',
                 side_keys: Union[str, List[str]] = r'_aux\d*$',
                 nan_policy: str = 'auto',
                 ckpt_key: str = 'task_balancer') -> None:
        if isinstance(balancer, dict):
            balancer = MODELS.build(balancer)
        if not isinstance(balancer, BaseTaskBalancer):
            raise TypeError('TaskBalanceHook: `balancer` must build a '
                            'BaseTaskBalancer (FixedTaskWeights, '
                            'LossPrioritization, UncertaintyWeighting, '
                            f'DynamicWeightAverage), got {type(balancer)}')
        if nan_policy not in ('auto', 'skip', 'stop'):
            raise ValueError("TaskBalanceHook: `nan_policy` must be 'auto', "
                             f"'skip' or 'stop', got {nan_policy!r}")
        if side_losses not in ('outside', 'inside'):
            raise ValueError("TaskBalanceHook: `side_losses` must be "
                             f"'outside' or 'inside', got {side_losses!r}")
        self.balancer = balancer
        self.side_losses = side_losses
        if side_losses == 'outside':
            # Raw and unweighted: exactly the treatment of `fixed_keys`.
            fixed = [] if fixed_keys is None else (
                [fixed_keys] if isinstance(fixed_keys, str) else
                list(fixed_keys))
            side = [side_keys] if isinstance(side_keys, str) else list(
                side_keys)
            fixed_keys = fixed + side
        self.grouper = LossGrouper(task_keys, fixed_keys)
        self.nan_policy = nan_policy
        self.ckpt_key = ckpt_key
        #: iterations whose non-finite losses were left out of the balancer
        self.num_skipped = 0
        self._installed = False
        self._model: Optional[nn.Module] = None
        #: the model's own ``parse_losses`` (bound), called for the entries
        self._model_parse_losses = None
        #: what the model instance's ``__dict__`` held under that name
        #: before installing (restored in ``after_run``)
        self._instance_attr = None
        self._cur_iter = 0

    # ------------------------------------------------------------------
    # set-up
    @staticmethod
    def infer_tasks(model: nn.Module) -> Optional[List[str]]:
        """Task names a model's loss dict will have, if they can be known
        before the first iteration.

        Args:
            model (nn.Module): The unwrapped model.

        Returns:
            list[str] | None: ``model.tasks`` when it is a list of names;
            ``decode`` / ``decode_<i>`` and ``aux`` / ``aux_<i>`` for mmseg
            encoder-decoders; otherwise ``None``.
        """
        tasks = getattr(model, 'tasks', None)
        if isinstance(tasks, (list, tuple)) and tasks and all(
                isinstance(t, str) for t in tasks):
            return list(tasks)
        decode_head = getattr(model, 'decode_head', None)
        if not isinstance(decode_head, nn.Module):
            return None
        if isinstance(decode_head, nn.ModuleList):
            names = [f'decode_{i}' for i in range(len(decode_head))]
        else:
            names = ['decode']
        if getattr(model, 'with_auxiliary_head', False):
            aux = model.auxiliary_head
            if isinstance(aux, nn.ModuleList):
                names += [f'aux_{i}' for i in range(len(aux))]
            else:
                names.append('aux')
        return names

    def before_run(self, runner) -> None:
        # before_run is also called by runner.val()/test(); only a training
        # run has a built optimizer wrapper at this point.
        if self._installed or not isinstance(runner.optim_wrapper,
                                             BaseOptimWrapper):
            return
        if (isinstance(self.balancer, PeriodicTaskBalancer)
                and self.balancer.period is None):
            try:
                period = len(runner.train_dataloader)
            except TypeError as e:
                raise ValueError(
                    f'{type(self.balancer).__name__}: the train dataloader '
                    'has no length; set `period` in the balancer config.'
                ) from e
            self.balancer.period = max(int(period), 1)
            runner.logger.info(
                f'TaskBalanceHook: {type(self.balancer).__name__} updates '
                f'its weights every {self.balancer.period} iterations '
                '(one epoch).')
        self.install(runner.model, runner.optim_wrapper)

    def install(self,
                model: nn.Module,
                optim_wrapper: Optional[BaseOptimWrapper] = None) -> None:
        """Install the balanced ``parse_losses`` on a model.

        Args:
            model (nn.Module): The model, possibly wrapped (e.g. DDP).
            optim_wrapper (BaseOptimWrapper, optional): The optimizer
                wrapper of the training run (``nan_policy`` is checked
                against it and learnable balancer parameters join it).
        """
        if is_model_wrapper(model):
            model = model.module
        owner = getattr(model.__dict__.get('parse_losses'), '__self__', None)
        if isinstance(owner, TaskBalanceHook) and owner is not self:
            raise ValueError(
                'Two TaskBalanceHooks act on the same model: keep one '
                'dict(type=\'TaskBalanceHook\', ...) in `custom_hooks` (each '
                'would weight the losses of the other).')
        if optim_wrapper is not None:
            self._resolve_nan_policy(optim_wrapper)
        if self.balancer.needs_tasks_before_run and \
                not self.balancer.initialized:
            tasks = self.grouper.declared_tasks or self.infer_tasks(model)
            if tasks is None:
                raise ValueError(
                    f'{type(self.balancer).__name__} has learnable '
                    'parameters and needs the task names before training: '
                    'set `task_keys` of TaskBalanceHook (the model has no '
                    '`tasks` attribute).')
            self.balancer.init_tasks(tasks)
        # after init_tasks, so that learnable parameters are moved too
        param = next(model.parameters(), None)
        if param is not None:
            self.balancer.to(param.device)
        if optim_wrapper is not None:
            self._add_param_group(optim_wrapper)
        self._model = model
        self._instance_attr = model.__dict__.get('parse_losses')
        self._model_parse_losses = model.parse_losses
        model.parse_losses = self.parse_losses
        self._installed = True

    def _resolve_nan_policy(self, optim_wrapper: BaseOptimWrapper) -> None:
        skipping = is_skipping(optim_wrapper)
        if self.nan_policy == 'auto':
            self.nan_policy = 'skip' if skipping else 'stop'
        elif self.nan_policy == 'skip' and not skipping:
            raise ValueError(
                "TaskBalanceHook(nan_policy='skip') needs an optimizer "
                'wrapper that skips non-finite steps: set '
                "optim_wrapper.type='SkipNonFiniteOptimWrapper' (or "
                "'SkipNonFiniteAmpOptimWrapper'), got "
                f'{type(optim_wrapper).__name__}; or use '
                "nan_policy='stop'.")

    def _add_param_group(self, optim_wrapper: BaseOptimWrapper) -> None:
        params = [p for p in self.balancer.parameters() if p.requires_grad]
        if not params:
            return
        if not isinstance(optim_wrapper, OptimWrapper):
            raise TypeError(
                f'{type(self.balancer).__name__} has learnable parameters '
                'and needs a single OptimWrapper to optimize them, got '
                f'{type(optim_wrapper).__name__}.')
        group = dict(getattr(self.balancer, 'param_group', {}))
        optimizer = optim_wrapper.optimizer
        group['params'] = params
        optimizer.add_param_group(group)
        # parameter schedulers read `initial_lr` of every group
        new_group = optimizer.param_groups[-1]
        new_group.setdefault('initial_lr', new_group['lr'])

    def after_run(self, runner) -> None:
        """Restore the model's own ``parse_losses``."""
        if self._model is None:
            return
        if self._instance_attr is None:
            del self._model.parse_losses
        else:
            self._model.parse_losses = self._instance_attr
        self._model = None

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._cur_iter = runner.iter

    # ------------------------------------------------------------------
    # the balanced loss
    def parse_losses(self, losses: Dict[str, torch.Tensor]) -> tuple:
        """Balanced replacement of the model's ``parse_losses``.

        Args:
            losses (dict[str, Tensor]): Raw loss dict of the model.

        Returns:
            tuple[Tensor, dict]: The balanced total loss and ``log_vars``
            (the model's entries, ``loss`` = balanced total, and
            ``weight_<task>``).
        """
        _, log_vars = self._model_parse_losses(losses)
        keys = [k for k in log_vars if k != 'loss']
        task_map, fixed = self.grouper.group(keys)
        balancer = self.balancer
        if not balancer.initialized:
            balancer.init_tasks(list(task_map))
        elif set(task_map) != set(balancer.tasks):
            raise ValueError(
                f'TaskBalanceHook: the loss dict has tasks {list(task_map)} '
                f'(from entries {keys}), but the balancer was set up for '
                f'{balancer.tasks}. Set `task_keys` to group the entries.')
        task_losses = torch.stack([
            sum(log_vars[k] for k in task_map[t]).float()
            for t in balancer.tasks
        ])
        projected = balancer.project(task_losses)
        num_tasks = balancer.num_tasks

        detached = projected.detach().double()
        finite = torch.isfinite(detached) & torch.isfinite(
            task_losses.detach())
        fixed_vals = [log_vars[k].detach().double().reshape(1) for k in fixed]
        fixed_finite = (
            torch.isfinite(torch.cat(fixed_vals))
            if fixed_vals else detached.new_ones(0, dtype=torch.bool))
        stats = torch.cat([
            torch.where(finite, detached, torch.zeros_like(detached)),
            (~finite).double(), (~fixed_finite).double()
        ])
        all_reduce(stats, op='sum')
        stats = stats.cpu()
        reduced = stats[:num_tasks] / get_world_size()
        bad = [t for t, f in zip(balancer.tasks, stats[num_tasks:2 *
                                                        num_tasks]) if f > 0]
        bad += [k for k, f in zip(fixed, stats[2 * num_tasks:]) if f > 0]

        weights = balancer.logged_weights()
        total = balancer.combine(projected, reduced)
        for k in fixed:
            total = total + log_vars[k].float()
        if bad:
            msg = (f'TaskBalanceHook: non-finite loss for task(s) {bad} at '
                   f'iteration {self._cur_iter + 1} (on at least one rank)')
            if self.nan_policy == 'stop':
                raise RuntimeError(msg + "; stopping (nan_policy='stop').")
            print_log(
                msg + '; the balancer statistics ignore the iteration and the '
                'optimizer wrapper skips its step.',
                logger='current',
                level=logging.WARNING)
            self.num_skipped += 1
            balancer.update(None)
        else:
            balancer.update(reduced)

        log_vars = type(log_vars)(
            (k, v.detach() if isinstance(v, torch.Tensor) else v)
            for k, v in log_vars.items())
        log_vars['loss'] = total.detach()
        for task, weight in zip(balancer.tasks, weights.tolist()):
            log_vars[f'weight_{task}'] = torch.tensor(weight)
        return total, log_vars

    # ------------------------------------------------------------------
    # checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[self.ckpt_key] = dict(
            type=type(self.balancer).__name__,
            state=self.balancer.get_state()
            if self.balancer.initialized else None,
            num_skipped=self.num_skipped)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return
        saved = checkpoint.get(self.ckpt_key)
        if saved is None:
            runner.logger.warning(
                f'TaskBalanceHook: the checkpoint has no "{self.ckpt_key}" '
                'entry; the task balancer starts from scratch.')
            return
        name = type(self.balancer).__name__
        if saved.get('type') != name:
            raise ValueError(
                f'TaskBalanceHook: the checkpoint holds the state of a '
                f'{saved.get("type")} balancer, the config uses {name}.')
        if saved.get('state') is not None:
            self.balancer.set_state(saved['state'])
        self.num_skipped = int(saved.get('num_skipped', 0))

    @property
    def tasks(self) -> Sequence[str]:
        """Task names of the balancer (empty before the first iteration)."""
        return list(self.balancer.tasks)
