"""Per-loss gradient audit: how large, and how aligned, are the gradients
that each loss term sends into the shared trunk of a multi-task model.

A multi-task head adds side (deep-supervision) losses next to the main task
losses; all of them reach the shared backbone. Whether the side terms help
or dominate is a question of the gradients they produce there:
:func:`audit_gradients` runs the model's loss forward on one batch and,
for every loss term, computes its gradient with respect to the trunk
parameters (``backbone`` and ``neck`` by default) with
:func:`torch.autograd.grad`. It reports every term's gradient norm, the
cosine between every two terms, and group summaries: the sum of the main
task terms against the sum of the side terms, overall and per task.

The audit is an observation and does not change training: parameters'
``.grad`` are never touched, and the RNG states (torch, CUDA, Python's
``random``, numpy's global generator) and every buffer of the model (e.g.
BatchNorm running statistics) are restored afterwards. See
:class:`~mmmtcp.engine.hooks.GradientAuditHook` for the training-time hook
and ``tools/analysis_tools/analyze_gradients.py`` for the command line.
"""
import copy
import math
import random
import re
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper
from torch import Tensor

#: loss entries of training-only regularizers: neither main nor side
OTHER_PATTERN = re.compile(r'(^|\.)loss_contrast')
#: side (deep-supervision) entries ``loss_<task>_aux<i>`` / ``loss_<task>_aux``
SIDE_PATTERN = re.compile(r'^loss_(?P<task>.+?)_aux\d*$')

MAIN, SIDE, OTHER = 'main', 'side', 'other'


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DDP / mmengine model wrappers.

    Args:
        model (nn.Module): A model, possibly wrapped.

    Returns:
        nn.Module: The innermost model.
    """
    while is_model_wrapper(model) or isinstance(
            model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def model_tasks(model: nn.Module) -> Optional[List[str]]:
    """Task names of a multi-task head (``model.decode_head.tasks``).

    Args:
        model (nn.Module): An unwrapped model.

    Returns:
        list[str] | None: The tasks, or ``None`` when the model has no
        multi-task head.
    """
    tasks = getattr(getattr(model, 'decode_head', None), 'tasks', None)
    if isinstance(tasks, (list, tuple)) and tasks and all(
            isinstance(t, str) for t in tasks):
        return list(tasks)
    return None


def _auto_task(key: str) -> str:
    """Task of a main entry when the model declares no tasks:
    ``<task>.<name>`` -> ``<task>``, ``loss_<task>`` -> ``<task>``."""
    if '.' in key:
        return key.split('.', 1)[0]
    if key.startswith('loss_') and len(key) > len('loss_'):
        return key[len('loss_'):]
    return key


def classify_terms(keys: Sequence[str],
                   tasks: Optional[Sequence[str]] = None
                   ) -> Dict[str, Tuple[str, Optional[str]]]:
    """Sort loss entries into main, side and other terms.

    With ``tasks`` (a multi-task head's ``decode_head.tasks``):
    ``loss_<task>`` is the main term of ``<task>``, ``loss_<task>_aux<i>``
    (and ``loss_<task>_aux``, the auxiliary head of
    :class:`~mmmtcp.models.MultiTaskSegmentor`) a side term of ``<task>``,
    everything else (e.g. ``loss_contrast_<task>`` of the contrastive
    regularizer) is ``'other'``.

    Without ``tasks``: ``loss_contrast...`` entries are ``'other'``,
    ``loss_<task>_aux<i>`` entries are side terms of ``<task>``, and every
    other entry is a main term of its own task (``loss_<task>`` ->
    ``<task>``, mmseg's ``decode.loss_ce`` -> ``decode``), the grouping of
    :class:`~mmmtcp.engine.LossGrouper`.

    Args:
        keys (Sequence[str]): Loss entry names (containing ``'loss'``).
        tasks (Sequence[str], optional): Task names of the model.

    Returns:
        dict[str, tuple[str, str | None]]: Key to ``(kind, task)``, kind
        one of ``'main'``, ``'side'``, ``'other'`` (task ``None``).
    """
    kinds: Dict[str, Tuple[str, Optional[str]]] = {}
    for key in keys:
        if tasks is not None:
            kind: Tuple[str, Optional[str]] = (OTHER, None)
            for task in tasks:
                if key == f'loss_{task}':
                    kind = (MAIN, task)
                    break
                if re.fullmatch(rf'loss_{re.escape(task)}_aux\d*', key):
                    kind = (SIDE, task)
                    break
        elif OTHER_PATTERN.search(key):
            kind = (OTHER, None)
        else:
            side = SIDE_PATTERN.match(key)
            kind = (SIDE, side.group('task')) if side else (MAIN,
                                                            _auto_task(key))
        kinds[key] = kind
    return kinds


def _matches(name: str, prefixes: Sequence[str]) -> bool:
    for prefix in prefixes:
        prefix = prefix.rstrip('.')
        if name == prefix or name.startswith(prefix + '.'):
            return True
    return False


def select_parameters(model: nn.Module, param_prefixes: Sequence[str]
                      ) -> List[Tuple[str, nn.Parameter]]:
    """The trainable parameters whose qualified names start with one of
    ``param_prefixes``.

    A prefix matches whole name components: ``'backbone'`` selects
    ``backbone.conv1.weight`` but not ``backbone2.weight``;
    ``'backbone.layer4'`` selects one stage.

    Args:
        model (nn.Module): The (possibly wrapped) model.
        param_prefixes (Sequence[str]): Name prefixes.

    Returns:
        list[tuple[str, Parameter]]: Name and parameter, in module order.

    Raises:
        ValueError: If no trainable parameter matches; the message names
            ``param_prefixes`` and the model's top-level children.
    """
    model = unwrap_model(model)
    if isinstance(param_prefixes, str):
        param_prefixes = (param_prefixes, )
    params = [(n, p) for n, p in model.named_parameters()
              if p.requires_grad and _matches(n, param_prefixes)]
    if not params:
        children = [n for n, _ in model.named_children()
                    if n != 'data_preprocessor']
        frozen = [n for n, p in model.named_parameters()
                  if not p.requires_grad and _matches(n, param_prefixes)]
        detail = (f' ({len(frozen)} matching parameters are frozen, '
                  'requires_grad=False)' if frozen else '')
        raise ValueError(
            f'`param_prefixes`={list(param_prefixes)} selects no trainable '
            f'parameter of {type(model).__name__}{detail}; its top-level '
            f'children are {children}')
    return params


def _loss_terms(losses: dict) -> Tuple[Dict[str, Tensor], List[str]]:
    """Entries containing ``'loss'`` that are tensors requiring grad (lists
    summed), and the names of the ``'loss'`` entries that are not."""
    terms: Dict[str, Tensor] = {}
    ignored: List[str] = []
    for key, value in losses.items():
        if 'loss' not in key:
            continue
        if isinstance(value, (list, tuple)) and value and all(
                isinstance(v, Tensor) for v in value):
            value = sum(v.sum() for v in value)
        if isinstance(value, Tensor) and value.requires_grad:
            terms[key] = value.sum() if value.dim() else value
        else:
            ignored.append(key)
    return terms, ignored


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[None]:
    """Restore the RNG states and the model's buffers on exit.

    Covers torch's CPU generator and the generators of the accelerator
    devices the model lives on (:func:`torch.random.fork_rng`), Python's
    ``random`` and numpy's global generator, and every registered buffer
    (values copied back into the original tensors; a buffer a module
    replaced by a new tensor is put back). Python attributes a forward pass
    may change (e.g. a call counter) are not covered.

    Args:
        model (nn.Module): The unwrapped model.
    """
    devices = {(t.device.type, t.device.index)
               for t in list(model.parameters()) + list(model.buffers())
               if t.device.type not in ('cpu', 'meta')}
    device_types = {d[0] for d in devices}
    fork_kwargs: dict = dict(devices=[])
    if len(device_types) == 1:
        device_type = device_types.pop()
        fork_kwargs = dict(
            device_type=device_type,
            devices=sorted(i if i is not None else 0 for _, i in devices))
    saved = []
    for module in model.modules():
        for name, buf in module._buffers.items():
            if buf is not None:
                saved.append((module, name, buf, buf.detach().clone()))
    py_state = random.getstate()
    np_state = np.random.get_state()
    try:
        with torch.random.fork_rng(**fork_kwargs):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        with torch.no_grad():
            for module, name, buf, value in saved:
                module._buffers[name] = buf
                buf.copy_(value)


def _flat_grad(term: Tensor, params: List[nn.Parameter], numel: int,
               device: torch.device) -> Tensor:
    """float64 gradient of ``term`` w.r.t. ``params``, flattened; zeros
    where a parameter is not reached."""
    grads = torch.autograd.grad(
        term, params, retain_graph=True, allow_unused=True)
    flat = torch.zeros(numel, dtype=torch.float64, device=device)
    offset = 0
    for param, grad in zip(params, grads):
        n = param.numel()
        if grad is not None:
            flat[offset:offset + n].copy_(grad.detach().reshape(-1))
        offset += n
    return flat


def _norm(vec: Optional[Tensor]) -> float:
    return 0.0 if vec is None else float(torch.linalg.vector_norm(vec))


def _cos(a: Optional[Tensor],
         b: Optional[Tensor],
         na: Optional[float] = None,
         nb: Optional[float] = None) -> float:
    na = _norm(a) if na is None else na
    nb = _norm(b) if nb is None else nb
    if na == 0.0 or nb == 0.0:
        return math.nan
    return float(torch.dot(a, b)) / (na * nb)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def _add(acc: Optional[Tensor], vec: Tensor) -> Tensor:
    return vec.clone() if acc is None else acc.add_(vec)


def audit_gradients(model: nn.Module,
                    data_batch: dict,
                    param_prefixes: Sequence[str] = ('backbone', 'neck'),
                    max_terms: Optional[int] = None) -> dict:
    """Gradient of every loss term on the trunk parameters, for one batch.

    Runs ``model.data_preprocessor(data_batch, True)`` and
    ``model(**data, mode='loss')`` (on the unwrapped model, in its current
    train/eval mode, without autocast: float32 under AMP training) on a
    deep copy of the batch (the preprocessor pads the samples in place).
    Every loss entry whose key contains ``'loss'`` and that is a tensor
    requiring grad is a term (a list of tensors is summed); its gradient
    w.r.t. the selected parameters is ``torch.autograd.grad(term, params,
    retain_graph=True, allow_unused=True)``, flattened and cast to float64.
    The terms are the loss-dict entries as the model returns them: a task
    balancer (``TaskBalanceHook``) weights or log-projects the main terms
    afterwards, so under LPS the back-propagated gradient of a main term is
    its audited gradient times the balancer's factor; side terms are added
    raw by default and are audited as trained.

    Terms are sorted into main (``loss_<task>``), side
    (``loss_<task>_aux<i>``) and other (e.g. ``loss_contrast_<task>``) with
    :func:`classify_terms`, using ``model.decode_head.tasks`` when the
    model has a multi-task head. A term with no gradient path to the
    parameters has norm 0 and NaN cosines; ratios with a zero denominator
    are NaN.

    Training is not changed: ``.grad`` of the parameters is untouched,
    and the RNG states and buffers are restored (:func:`preserved_state`).

    Memory: one flattened float64 gradient is kept per term (for the
    cosine matrix), i.e. terms x selected parameters x 8 bytes (about
    1 GiB for 12 terms on an 11M-parameter trunk, 27 GiB on a ViT-L's
    304M), plus a few group sums. For large trunks restrict
    ``param_prefixes`` (e.g. ``'backbone.layers.23'``) or set
    ``max_terms``.

    Args:
        model (nn.Module): The model (mmengine ``BaseModel`` with a
            ``data_preprocessor``), possibly wrapped in DDP.
        data_batch (dict): A batch as the train dataloader yields it.
        param_prefixes (Sequence[str]): Qualified-name prefixes of the
            audited parameters. Defaults to ``('backbone', 'neck')``.
        max_terms (int, optional): Keep the gradients of at most this many
            terms for the cosine matrix (in the order of ``terms``); the
            cosines of later terms are NaN, their norms and the group
            summaries are still exact. ``None`` keeps all.

    Returns:
        dict: With keys

        - ``terms`` (list[str]): the audited terms, grouped by task (main
          term, then side terms), then the other terms;
        - ``kinds`` / ``term_tasks`` (dict[str, str | None]): kind
          (``'main'``, ``'side'``, ``'other'``) and task of every term;
        - ``norms`` (dict[str, float]): L2 norm of every term's gradient;
        - ``cosine`` (list[list[float]]): pairwise cosine matrix, in the
          order of ``terms``;
        - ``groups`` (dict[str, float]): norms of the summed gradients of
          the ``main``, ``side`` and ``other`` terms and of all terms
          (``total``);
        - ``side_main_ratio`` / ``side_main_cos`` (float):
          ``|g_side| / |g_main|`` and the cosine of the two sums;
        - ``tasks`` (dict[str, dict]): per task ``main`` and ``side`` norms,
          ``side_main_ratio``, ``side_main_cos`` and its ``side_terms``;
        - ``ignored`` (list[str]): ``'loss'`` entries that are not tensors
          requiring grad;
        - ``param_prefixes`` (list[str]), ``num_params`` (int): what was
          audited.

    Raises:
        ValueError: If ``param_prefixes`` selects no trainable parameter,
            ``max_terms`` is not a positive int, or the loss dict has no
            term requiring grad.
    """
    if max_terms is not None and (not isinstance(max_terms, int)
                                  or max_terms < 1):
        raise ValueError(
            f'`max_terms` must be a positive int or None, got {max_terms!r}')
    model = unwrap_model(model)
    named = select_parameters(model, param_prefixes)
    params = [p for _, p in named]
    numel = sum(p.numel() for p in params)
    device = params[0].device
    with preserved_state(model):
        data = model.data_preprocessor(copy.deepcopy(data_batch), True)
        losses = model(**data, mode='loss')
        terms, ignored = _loss_terms(losses)
        if not terms:
            raise ValueError(
                f'{type(model).__name__} returned no loss entry requiring '
                f'grad (entries: {sorted(losses)})')
        classes = classify_terms(list(terms), model_tasks(model))
        task_order: List[str] = []
        for key, (kind, task) in classes.items():
            if task is not None and task not in task_order:
                task_order.append(task)
        order = [k for t in task_order for kind in (MAIN, SIDE)
                 for k, c in classes.items() if c == (kind, t)]
        order += [k for k, c in classes.items() if c[0] == OTHER]

        norms: Dict[str, float] = {}
        kept: Dict[str, Tensor] = {}
        sums: Dict[str, Optional[Tensor]] = {MAIN: None, SIDE: None,
                                             OTHER: None}
        per_task: Dict[str, dict] = {}
        for task in task_order:
            task_sums: Dict[str, Optional[Tensor]] = {MAIN: None, SIDE: None}
            for key in order:
                if classes[key][1] != task:
                    continue
                vec = _flat_grad(terms[key], params, numel, device)
                norms[key] = _norm(vec)
                kind = classes[key][0]
                task_sums[kind] = _add(task_sums[kind], vec)
                if max_terms is None or len(kept) < max_terms:
                    kept[key] = vec
            main_norm, side_norm = _norm(task_sums[MAIN]), _norm(
                task_sums[SIDE])
            per_task[task] = dict(
                main=main_norm,
                side=side_norm,
                side_main_ratio=_ratio(side_norm, main_norm),
                side_main_cos=_cos(task_sums[MAIN], task_sums[SIDE]),
                side_terms=[k for k in order if classes[k] == (SIDE, task)])
            for kind in (MAIN, SIDE):
                if task_sums[kind] is None:
                    continue
                if sums[kind] is None:
                    sums[kind] = task_sums[kind]  # not used any more
                else:
                    sums[kind].add_(task_sums[kind])
            del task_sums
        for key in order:
            if classes[key][0] != OTHER:
                continue
            vec = _flat_grad(terms[key], params, numel, device)
            norms[key] = _norm(vec)
            sums[OTHER] = _add(sums[OTHER], vec)
            if max_terms is None or len(kept) < max_terms:
                kept[key] = vec
        del losses, terms, data

    total = None
    for kind in (MAIN, SIDE, OTHER):
        if sums[kind] is not None:
            total = _add(total, sums[kind])
    cosine = [[math.nan] * len(order) for _ in order]
    for i, a in enumerate(order):
        for j in range(i, len(order)):
            b = order[j]
            if a not in kept or b not in kept:
                continue
            if i == j:
                value = 1.0 if norms[a] > 0 else math.nan
            else:
                value = _cos(kept[a], kept[b], norms[a], norms[b])
            cosine[i][j] = cosine[j][i] = value
    kept.clear()
    main_norm, side_norm = _norm(sums[MAIN]), _norm(sums[SIDE])
    return dict(
        terms=order,
        kinds={k: classes[k][0] for k in order},
        term_tasks={k: classes[k][1] for k in order},
        norms={k: norms[k] for k in order},
        cosine=cosine,
        groups=dict(
            main=main_norm,
            side=side_norm,
            other=_norm(sums[OTHER]),
            total=_norm(total)),
        side_main_ratio=_ratio(side_norm, main_norm),
        side_main_cos=_cos(sums[MAIN], sums[SIDE]),
        tasks=per_task,
        ignored=ignored,
        param_prefixes=list(param_prefixes) if not isinstance(
            param_prefixes, str) else [param_prefixes],
        num_params=numel)


def _json_safe(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def audit_record(result: dict, iteration: int) -> dict:
    """One JSON-serializable record of an audit (a line of
    ``grad_audit.jsonl``): ``iter`` followed by the result of
    :func:`audit_gradients`, with NaN and inf written as ``null`` (standard
    JSON).

    Args:
        result (dict): Output of :func:`audit_gradients`.
        iteration (int): Training iteration (1-based, as in the logs) or
            batch index.

    Returns:
        dict: The record.
    """
    record = dict(iter=int(iteration))
    record.update(_json_safe(result))
    return record


def scalar_name(term: str) -> str:
    """Name of a term in logged scalar keys: without ``loss`` (mmseg's
    ``parse_losses`` and the log processor treat keys containing ``'loss'``
    as losses), e.g. ``loss_semseg_aux0`` -> ``semseg_aux0``,
    ``decode.loss_ce`` -> ``decode.ce``.

    Args:
        term (str): A loss entry name.

    Returns:
        str: The name, free of ``'loss'``.
    """
    name = re.sub(r'loss_?', '', term).strip('._') or 'term'
    while 'loss' in name:
        name = name.replace('loss', 'l')
    return name
