"""FLOPs and parameters of a multi-task model's inference path.

The counting behind ``tools/get_flops.py`` (importable on its own:
:func:`complexity` returns the numbers, :func:`report` the summary the tool
prints).

**FLOPs** are counted by tracing ``model(inputs, mode='tensor')`` (backbone,
neck and head without side outputs, as mmseg's ``get_flops.py``) with
mmengine's :class:`~mmengine.analysis.FlopAnalyzer`, in its convention: **one
fused multiply-add counts as one FLOP** (so the numbers are multiply-adds,
MACs). On top of mmengine's default operator handles this module counts
``aten::scaled_dot_product_attention`` (the ViT self-attention of
mmpretrain/mmseg, and the Coherence Fusion Module's ``softmax(K^T Q)``
propagation with ``impl='sdpa'``, which mmengine skips) and the CFM's
propagation by row blocks (``impl='rows'``, what ``'auto'`` runs on the
CPU): ``B * heads * Lq * Lk * (E + Ev)`` multiply-adds for ``Q K^T`` and
``attention x V``, the softmax ignored (:func:`flop_handles`).

Element-wise and reduction operators (additions, activations, pooling,
CBAM's channel/spatial statistics, ...) are not FLOPs in this convention,
as in mmengine; their cost is estimated (one operation per element of the
largest operand) and reported apart. Any operator that has no handle at
all is listed at the end of the summary (``N calls of ops not counted:
...``): the FLOPs are then a lower bound.

**Parameters** are given twice: those the inference forward actually reads
(``params``: recorded while the traced forward runs, so training-only parts
such as the contrastive regularizer's projectors ``model.regularizers``,
the MT-CP head's deep-supervision ``side_outputs`` and the trace-back's
coarse prediction projections are left out; see
:func:`training_only_modules`) and all of them (``params_total``).
"""
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Set

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import elementwise_flop_counter, get_shape
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

__all__ = [
    'CONVENTION', 'SDPA_OP', 'AFFINITY_OP', 'ATTENTION_OPS',
    'ELEMENTWISE_OPS', 'DATA_MOVEMENT_OPS', 'RESIZE_OPS', 'sdpa_flop_jit',
    'affinity_flop_jit', 'elementwise_jit', 'flop_handles',
    'training_only_modules', 'complexity', 'report'
]


CONVENTION = ('1 fused multiply-add = 1 FLOP (mmengine/fvcore convention; '
              'element-wise ops not included)')
SDPA_OP = 'aten::scaled_dot_product_attention'
#: The CFM affinity of ``impl='rows'`` (``impl='auto'`` on the CPU), a
#: custom autograd function, as it appears in a traced graph.
AFFINITY_OP = 'prim::PythonOp._RowBlockAffinity'
ATTENTION_OPS = (SDPA_OP, AFFINITY_OP)

# Element-wise and reduction operators: not FLOPs in the multiply-add
# convention, their cost is estimated separately (one operation per element
# of the largest operand).
ELEMENTWISE_OPS = tuple(
    f'aten::{name}'
    for name in ('abs', 'add', 'add_', 'addcmul', 'amax', 'amin', 'avg_pool1d',
                 'avg_pool2d', 'avg_pool3d', 'clamp_max', 'clamp_min', 'cos',
                 'cumsum', 'div', 'div_', 'elu', 'erf', 'exp', 'gelu',
                 'hardsigmoid', 'hardswish', 'hardtanh', 'hardtanh_',
                 'leaky_relu', 'leaky_relu_', 'linalg_vector_norm', 'log',
                 'log_softmax', 'logsumexp', 'max_pool1d', 'max_pool2d',
                 'max_pool3d', 'maximum', 'mean', 'minimum', 'mish', 'mul',
                 'mul_', 'neg', 'norm', 'pow', 'reciprocal', 'relu6', 'rsqrt',
                 'rsub', 'sigmoid', 'sigmoid_', 'silu', 'silu_', 'sin',
                 'softmax', 'softplus', 'sqrt', 'std', 'sub', 'sub_', 'sum',
                 'tanh', 'var', 'where'))

# Pure data movement, fills and comparisons (no arithmetic), ignored like
# mmengine's own list of such ops.
DATA_MOVEMENT_OPS = tuple(
    f'aten::{name}'
    for name in ('clone', 'empty_like', 'expand_as', 'fill_', 'flip', 'im2col',
                 'le', 'logical_and', 'logical_not', 'logical_or', 'lt', 'ne',
                 'new_ones', 'ones_like', 'pad', 'pixel_shuffle',
                 'pixel_unshuffle', 'repeat', 'reshape_as', 'tile',
                 'unflatten', 'view_as', 'zero_'))

# Resizes mmengine does not handle, counted like its bilinear upsampling
# (interpolation weights per output element: 4 bilinear, 16 bicubic).
RESIZE_OPS = {
    'aten::upsample_bicubic2d': elementwise_flop_counter(0, 16),
    'aten::upsample_linear1d': elementwise_flop_counter(0, 2),
    'aten::upsample_trilinear3d': elementwise_flop_counter(0, 8),
    'aten::upsample_nearest1d': elementwise_flop_counter(0, 1),
    'aten::upsample_nearest3d': elementwise_flop_counter(0, 1),
}


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of one ``aten::scaled_dot_product_attention`` call.

    ``Q K^T`` costs ``Lq * Lk * E`` and ``attention x V`` ``Lq * Lk * Ev``
    per batch element and head; the scale, mask and softmax are ignored, and
    a causal or masked attention is counted as dense.

    Args:
        inputs (list[torch._C.Value]): Traced inputs of the op: query
            ``(..., Lq, E)``, key ``(..., Lk, E)``, value ``(..., Lk, Ev)``,
            then mask, dropout, causal flag and scale.
        outputs (list[torch._C.Value]): Traced outputs, ``(..., Lq, Ev)``.

    Returns:
        int: ``prod(batch dims) * Lq * Lk * (E + Ev)``.
    """
    q, k, v = (get_shape(val) for val in inputs[:3])
    out = get_shape(outputs[0])
    if None in (q, k, v, out):
        raise ValueError(f'{SDPA_OP}: the traced graph has no complete '
                         'shapes for its inputs')
    batch = 1
    for size in out[:-2]:  # the broadcast batch/head dimensions
        batch *= int(size)
    lq, e = int(q[-2]), int(q[-1])
    lk, ev = int(k[-2]), int(v[-1])
    return batch * lq * lk * (e + ev)


def affinity_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of one CFM affinity by row blocks
    (:func:`mmmtcp.models.layers.affinity_propagation`, ``impl='rows'``).

    Args:
        inputs (list[torch._C.Value]): Traced inputs: query ``(B, N, D)``,
            key ``(B, M, D)``, value ``(B, M, C)``.
        outputs (list[torch._C.Value]): Traced outputs, ``(B, N, C)``.

    Returns:
        int: ``B * N * M * (D + C)`` (``Q K^T`` and ``A V``, no padding).
    """
    q, k, v = (get_shape(val) for val in inputs[:3])
    if None in (q, k, v):
        raise ValueError(f'{AFFINITY_OP}: the traced graph has no complete '
                         'shapes for its inputs')
    return int(q[0]) * int(q[1]) * int(k[1]) * (int(q[2]) + int(v[2]))


def elementwise_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Estimated operations of an element-wise or reduction op.

    Args:
        inputs (list[torch._C.Value]): Traced inputs of the op.
        outputs (list[torch._C.Value]): Traced outputs of the op.

    Returns:
        int: Elements of the largest tensor operand (input or output).
    """
    largest = 0
    for val in list(inputs) + list(outputs):
        shape = get_shape(val)
        if shape is None:
            continue
        numel = 1
        for size in shape:
            numel *= int(size)
        largest = max(largest, numel)
    return largest


def _counting(op: str, handle: Any, calls: Counter) -> Any:
    """``handle`` that also counts its calls in ``calls[op]``."""

    def wrapped(inputs: List[Any], outputs: List[Any]) -> Any:
        calls[op] += 1
        return handle(inputs, outputs)

    return wrapped


def flop_handles(calls: Optional[Counter] = None) -> Dict[str, Any]:
    """Operator handles this tool adds to mmengine's defaults.

    Args:
        calls (Counter, optional): If given, every handle counts its calls
            in it (``calls[op name]``).

    Returns:
        dict: ``{op name: handle or None}`` for
        :meth:`FlopAnalyzer.set_op_handle` (None: data movement, ignored).
    """
    handles: Dict[str, Any] = {
        SDPA_OP: sdpa_flop_jit,
        AFFINITY_OP: affinity_flop_jit
    }
    handles.update(RESIZE_OPS)
    handles.update({op: elementwise_jit for op in ELEMENTWISE_OPS})
    if calls is not None:
        handles = {
            op: _counting(op, handle, calls)
            for op, handle in handles.items()
        }
    handles.update({op: None for op in DATA_MOVEMENT_OPS})
    return handles


class _ParameterUse(TorchFunctionMode):
    """Records the parameters read by torch functions that produce tensors
    (metadata such as ``.shape`` or ``.numel()`` does not count)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.params = {id(p) for p in model.parameters()}
        self.used: Set[int] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if any(isinstance(o, torch.Tensor) for o in tree_flatten(out)[0]):
            for arg in tree_flatten((args, kwargs))[0]:
                if isinstance(arg, torch.Tensor) and id(arg) in self.params:
                    self.used.add(id(arg))
        return out


def training_only_modules(model: nn.Module, used: Set[int]) -> List[str]:
    """Smallest set of modules holding exactly the unused parameters.

    Args:
        model (nn.Module): The model.
        used (set[int]): ``id`` of the parameters used at inference.

    Returns:
        list[str]: Names of the outermost modules whose parameters are all
        unused (parameters of partly used modules are named themselves),
        largest first.
    """
    names: List[str] = []
    covered: Set[int] = set()
    for name, module in model.named_modules():
        params = list(module.parameters())
        if not params or any(id(p) in used for p in params):
            continue
        if all(id(p) in covered for p in params):
            continue
        names.append(name or '<model>')
        covered.update(id(p) for p in params)
    for name, p in model.named_parameters():
        if id(p) not in used and id(p) not in covered:
            names.append(name)
    sizes = {
        name: sum(p.numel() for p in module.parameters())
        for name, module in model.named_modules()
    }
    sizes.update({name: p.numel() for name, p in model.named_parameters()})
    sizes['<model>'] = sizes.get('', 0)
    # largest first
    return sorted(names, key=lambda name: -sizes[name])


def _format(num: float, unit: str = '') -> str:
    """``num`` with a T/G/M/K suffix and three decimals (``'1.234G'``), or
    as an integer below 1000, followed by ``unit``."""
    for scale, suffix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(num) >= scale:
            return f'{num / scale:.3f}{suffix}{unit}'
    return f'{num:.0f}{unit}'


def _ops_list(ops: Counter) -> str:
    """``'op x<calls>, ...'``, the most called first."""
    return ', '.join(f'{op} x{n}' for op, n in ops.most_common())


def complexity(model: nn.Module, shape: Sequence[int]) -> Dict[str, Any]:
    """FLOPs and parameters of ``model(inputs, mode='tensor')``.

    One ``(1, 3, H, W)`` zero input is traced on the model's device, in
    eval mode and without gradients.

    Args:
        model (nn.Module): A built multi-task segmentor.
        shape (Sequence[int]): ``(H, W)`` of the input.

    Returns:
        dict: ``flops`` (int, multiply-adds: mmengine's default handles plus
        attention), ``attention_flops`` and ``attention_calls`` (the
        ``scaled_dot_product_attention`` share), ``flops_by_operator``
        (Counter), ``elementwise_ops`` (estimated operations of element-wise
        and reduction ops, not in ``flops``), ``elementwise_calls``
        (Counter), ``unsupported_ops`` (Counter of ops not counted at all),
        ``params`` (int, parameters the inference forward reads),
        ``params_total`` (int, all parameters), ``training_only_modules``
        (list[str]) and the human-readable strings ``flops_str``,
        ``params_str`` and ``params_total_str``.
    """
    model.eval()
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device('cpu')
    inputs = torch.zeros(1, 3, *shape, device=device)
    analyzer = FlopAnalyzer(model, (inputs, ))
    graph_ops: Counter = Counter()
    analyzer.set_op_handle(**flop_handles(graph_ops))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    probe = _ParameterUse(model)
    with torch.no_grad(), probe:
        by_operator = analyzer.by_operator()
    unsupported = Counter(analyzer.unsupported_ops())

    elementwise_names = {op.split('::', 1)[1] for op in ELEMENTWISE_OPS}
    flops = sum(n for op, n in by_operator.items()
                if op not in elementwise_names)
    elementwise = sum(n for op, n in by_operator.items()
                      if op in elementwise_names)
    attention_flops = sum(
        by_operator.get(op.split('::', 1)[1], 0) for op in ATTENTION_OPS)

    params_total = sum(p.numel() for p in model.parameters())
    params = sum(p.numel() for p in model.parameters() if id(p) in probe.used)
    return dict(flops=int(flops),
                flops_str=_format(flops),
                attention_flops=int(attention_flops),
                attention_calls=sum(graph_ops.get(op, 0)
                                    for op in ATTENTION_OPS),
                flops_by_operator=Counter({
                    op: int(n)
                    for op, n in by_operator.items()
                    if op not in elementwise_names
                }),
                elementwise_ops=int(elementwise),
                elementwise_calls=Counter({
                    op: n
                    for op, n in graph_ops.items() if op in ELEMENTWISE_OPS
                }),
                unsupported_ops=unsupported,
                params=params,
                params_str=_format(params),
                params_total=params_total,
                params_total_str=_format(params_total),
                training_only_modules=training_only_modules(model, probe.used))


def report(result: Dict[str, Any], shape: Sequence[int]) -> str:
    """Human-readable summary of :func:`complexity`.

    Args:
        result (dict): Output of :func:`complexity`.
        shape (Sequence[int]): ``(H, W)`` of the input.

    Returns:
        str: The lines to print, the ops that were not counted last.
    """
    flops = result['flops']
    lines = [
        f'Input shape: (1, 3, {shape[0]}, {shape[1]}), '
        "model(inputs, mode='tensor')",
        f"FLOPs: {result['flops_str']} ({flops}), {CONVENTION}",
        f"  of which attention ({SDPA_OP} and the CFM affinity, "
        f"{result['attention_calls']} calls): "
        f"{_format(result['attention_flops'])} "
        f"({result['attention_flops']})",
        f"Params (inference): {result['params_str']} ({result['params']})",
        f"Params (total, incl. training-only): {result['params_total_str']} "
        f"({result['params_total']})",
    ]
    training_only = result['params_total'] - result['params']
    if training_only:
        modules = result['training_only_modules']
        shown = ', '.join(modules[:6])
        if len(modules) > 6:
            shown += f', ... (+{len(modules) - 6} more)'
        lines.append(f'  training-only: {_format(training_only)} '
                     f'({training_only}) in {shown}')
    calls = result['elementwise_calls']
    if calls:
        share = result['elementwise_ops'] / flops if flops else 0.0
        lines.append(
            'Element-wise/reduction ops (not in FLOPs, ~1 op per element): '
            f"{_format(result['elementwise_ops'])} ({share:.1%} of FLOPs) in "
            f'{sum(calls.values())} calls: {_ops_list(calls)}')
    unsupported = result['unsupported_ops']
    if unsupported:
        lines.append(f'WARNING: {sum(unsupported.values())} calls of ops not '
                     f'counted: {_ops_list(unsupported)} (the FLOPs are a '
                     'lower bound)')
    else:
        lines.append('0 calls of ops not counted: every traced op has a '
                     'handle.')
    return '\n'.join(lines)
