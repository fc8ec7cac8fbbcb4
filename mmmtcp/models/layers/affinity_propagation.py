"""Unscaled softmax affinity propagation over all positions.

The Coherence Fusion Module of MT-CP (Fontana et al., WACV 2025) spreads a
task's features along a pixel affinity ``softmax(Q K^T)`` (rows: the
receiving positions) computed from the other tasks' features, without the
``1/sqrt(d)`` scale of dot-product attention. Written out, the affinity is an ``N x M`` matrix (``N = M = HW``:
19,200^2 floats per image at 1/4 of 480x640). The implementations here
compute the same function:

- ``'rows'``: the rows of the affinity in blocks of at most
  ``block_bytes`` of scores, with a backward pass of its own. The
  probabilities of as many blocks as fit in ``keep_bytes`` are kept for the
  backward pass (as the explicit form keeps all of them) and the others
  are recomputed there from the inputs, which is all that is kept besides.
  Query/key and value widths are used as they are (no padding), so the
  arithmetic is that of the explicit form, plus one score product for the
  recomputed blocks. Every block is written into buffers reused from block
  to block, so the CPU does not fault in fresh pages for each score matrix.
- ``'sdpa'``: :func:`torch.nn.functional.scaled_dot_product_attention` with
  ``scale=1.0``; the fused kernels want one head size, so the narrower of
  query/key and value is zero-padded (which leaves the function unchanged
  but adds arithmetic), and they recompute the scores in backward.
- ``'chunked'``: blocks of ``chunk_size`` queries through autograd, each
  block recomputed in the backward pass (activation checkpointing).
- ``'naive'``: the explicit matrix through autograd, the reference's
  algorithm, kept for comparison and testing.
- ``'auto'``: ``'rows'`` on the CPU (faster than the explicit form and than
  ``'sdpa'`` from 30x40 to 120x160 tokens,
  ``tools/benchmarks/benchmark_cfm.py``); ``'sdpa'`` on other devices,
  whose fused kernels PyTorch chooses per device.

Every implementation computes the scores, the softmax and the propagation
in float32 when the inputs are half precision or autocast is on: the
unscaled dot products of a few hundred non-negative features reach
hundreds to thousands, where fp16/bf16 rounding alone (a step of 0.5 at
1,000 in fp16, 4 in bf16) changes the softmax weights by tens of percent.
The result is returned in the dtype of ``value``.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint

AFFINITY_IMPLS = ('auto', 'rows', 'sdpa', 'chunked', 'naive')

#: Default score-block size of ``'rows'``: 64 MiB of float32 scores.
DEFAULT_BLOCK_BYTES = 64 * 2**20
#: Default amount of probabilities ``'rows'`` keeps for backward (1 GiB:
#: all of them up to a 90x120 token grid, 70 % of them at 120x160).
DEFAULT_KEEP_BYTES = 2**30


def resolve_affinity_impl(impl: str, device: torch.device) -> str:
    """The implementation ``impl`` stands for on ``device``.

    Args:
        impl (str): One of :data:`AFFINITY_IMPLS`.
        device (torch.device): Device of the features.

    Returns:
        str: ``impl`` itself, or for ``'auto'``: ``'rows'`` on the CPU (the
        exact arithmetic of the explicit form, faster than it and than
        PyTorch's fused CPU kernel at every size measured by
        ``tools/benchmarks/benchmark_cfm.py``) and ``'sdpa'`` on other
        devices.
    """
    if impl not in AFFINITY_IMPLS:
        raise ValueError(f'affinity_propagation: `impl` must be one of '
                         f'{AFFINITY_IMPLS}, got {impl!r}')
    if impl != 'auto':
        return impl
    return 'rows' if torch.device(device).type == 'cpu' else 'sdpa'


def _block_rows(batch: int, keys: int, block_bytes: int) -> int:
    """Rows per block so that ``batch x rows x keys`` float32 scores take at
    most ``block_bytes`` (at least one row)."""
    return max(1, int(block_bytes) // (4 * max(1, batch * keys)))


def _block_buffer(flat: Tensor, batch: int, rows: int, keys: int) -> Tensor:
    """A contiguous ``(batch, rows, keys)`` view of the start of ``flat``."""
    return flat[:batch * rows * keys].view(batch, rows, keys)


def _softmax_(scores: Tensor) -> Tensor:
    """PyTorch's fused softmax over the last dimension, written in place."""
    return torch.ops.aten._softmax.out(scores, -1, False, out=scores)


class _RowBlockAffinity(torch.autograd.Function):
    """``softmax(scale * Q K^T) V`` by row blocks with its own backward.

    Every block is computed into one reused buffer (``out=`` variants of the
    GEMMs, the softmax and its backward): on the CPU, writing into freshly
    allocated memory costs a page fault per 4 KiB, which made a fresh
    ``2048 x 19200`` score block as slow to produce as 60 % of its GEMM.
    The probabilities of the first blocks are kept for the backward pass
    while they fit in ``keep_bytes``; the rest are recomputed there by the
    same GEMM and softmax, so both paths give bit-identical probabilities.
    """

    @staticmethod
    def forward(ctx, query: Tensor, key: Tensor, value: Tensor, scale: float,
                block_bytes: int, keep_bytes: int) -> Tensor:
        # the gradients are returned in the layout of the inputs (the CFM
        # passes transposed views of NCHW maps; a gradient in another
        # layout slows down every layer it flows back through)
        ctx.layouts = [(t.shape, t.stride()) for t in (query, key, value)]
        # one copy each into the row-major layout the GEMMs want, instead
        # of a copy per block inside bmm
        query, key, value = (t.contiguous() for t in (query, key, value))
        b, n, _ = query.shape
        m = key.shape[1]
        rows = max(1, min(n, _block_rows(b, m, block_bytes)))
        keep_blocks = int(keep_bytes) // max(1, 4 * b * rows * m)
        out = value.new_empty(b, n, value.shape[-1])
        flat = query.new_empty(b * rows * m)
        kept = []
        key_t = key.transpose(1, 2)
        for i, start in enumerate(range(0, n, rows)):
            stop = min(n, start + rows)
            scores = _block_buffer(flat, b, stop - start, m)
            torch.bmm(query[:, start:stop], key_t, out=scores)
            if scale != 1.0:
                scores.mul_(scale)
            if i < keep_blocks:
                probs = torch.softmax(scores, dim=-1)
                kept.append(probs)
            else:
                probs = _softmax_(scores)
            torch.bmm(probs, value, out=out[:, start:stop])
        # the kept probabilities are saved tensors too: autograd frees them
        # after a backward pass unless the graph is retained, so a second
        # backward (``retain_graph=True``) finds them again
        ctx.save_for_backward(query, key, value, *kept)
        ctx.rows = rows
        ctx.scale = scale
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        query, key, value, *kept = ctx.saved_tensors
        rows, scale = ctx.rows, ctx.scale
        b, n, _ = query.shape
        m = key.shape[1]
        grad_out = grad_out.contiguous()
        grad_q = torch.empty_like(query)
        grad_k = torch.zeros_like(key)
        grad_v = torch.zeros_like(value)
        key_t, value_t = key.transpose(1, 2), value.transpose(1, 2)
        grad_flat = query.new_empty(b * rows * m)
        probs_flat = None
        for i, start in enumerate(range(0, n, rows)):
            stop = min(n, start + rows)
            q = query[:, start:stop]
            g = grad_out[:, start:stop]
            if i < len(kept):
                probs = kept[i]
            else:  # the forward pass' GEMM and softmax again
                if probs_flat is None:
                    probs_flat = query.new_empty(b * rows * m)
                probs = _block_buffer(probs_flat, b, stop - start, m)
                torch.bmm(q, key_t, out=probs)
                if scale != 1.0:
                    probs.mul_(scale)
                _softmax_(probs)
            grad_v.baddbmm_(probs.transpose(1, 2), g)
            # dS = P * (dP - rowsum(P * dP)) with dP = dO V^T: PyTorch's
            # fused softmax backward, in place
            grad_scores = _block_buffer(grad_flat, b, stop - start, m)
            torch.bmm(g, value_t, out=grad_scores)
            torch.ops.aten._softmax_backward_data.out(
                grad_scores, probs, -1, probs.dtype, grad_input=grad_scores)
            del probs
            torch.bmm(grad_scores, key, out=grad_q[:, start:stop])
            grad_k.baddbmm_(grad_scores.transpose(1, 2), q)
        if scale != 1.0:
            grad_q.mul_(scale)
            grad_k.mul_(scale)
        grads = [
            g if g.stride() == stride else torch.empty_strided(
                shape, stride, dtype=g.dtype, device=g.device).copy_(g)
            for g, (shape, stride) in zip((grad_q, grad_k, grad_v),
                                          ctx.layouts)
        ]
        return (*grads, None, None, None)


def _explicit(query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    attn = torch.softmax(torch.matmul(query, key.transpose(-1, -2)), dim=-1)
    return torch.matmul(attn, value)


def sdpa_inputs(query: Tensor, key: Tensor,
                value: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """The ``(B, 1, L, E)`` tensors ``'sdpa'`` hands to
    :func:`~torch.nn.functional.scaled_dot_product_attention`.

    The fused kernels want one head size for query, key and value
    (zero-padding the smaller one leaves every dot product and every
    propagated channel unchanged) and a contiguous last dimension (else
    PyTorch silently falls back to the explicit-matrix kernel).
    """
    d, c = query.shape[-1], value.shape[-1]
    if c < d:
        value = F.pad(value, (0, d - c))
    elif d < c:
        query = F.pad(query, (0, c - d))
        key = F.pad(key, (0, c - d))
    return (query.unsqueeze(1).contiguous(), key.unsqueeze(1).contiguous(),
            value.unsqueeze(1).contiguous())


def _sdpa(query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    out = F.scaled_dot_product_attention(
        *sdpa_inputs(query, key, value), scale=1.0).squeeze(1)
    return out[..., :value.shape[-1]]


def affinity_propagation(query: Tensor,
                         key: Tensor,
                         value: Tensor,
                         impl: str = 'auto',
                         chunk_size: int = 4096,
                         scale: float = 1.0,
                         block_bytes: int = DEFAULT_BLOCK_BYTES,
                         keep_bytes: int = DEFAULT_KEEP_BYTES) -> Tensor:
    """Compute ``softmax(scale * query @ key^T) @ value`` row-wise.

    Args:
        query (Tensor): ``(B, N, D)`` features of the positions that receive
            (the rows of the affinity).
        key (Tensor): ``(B, M, D)`` features of the positions that send.
        value (Tensor): ``(B, M, C)`` features that are propagated.
        impl (str): ``'auto'``, ``'rows'``, ``'sdpa'``, ``'chunked'`` or
            ``'naive'`` (see the module docstring). Defaults to ``'auto'``.
        chunk_size (int): Rows per chunk for ``'chunked'``.
        scale (float): Multiplier of the dot products. MT-CP uses 1.0.
        block_bytes (int): Largest block of float32 scores of ``'rows'``.
        keep_bytes (int): ``'rows'`` keeps the probabilities of as many
            row blocks for the backward pass as fit in this many bytes and
            recomputes the others there.

    Returns:
        Tensor: ``(B, N, C)`` propagated features, in ``value``'s dtype.
    """
    impl = resolve_affinity_impl(impl, query.device)
    if query.shape[-1] != key.shape[-1]:
        raise ValueError('affinity_propagation: query and key need the same '
                         f'feature size, got {query.shape} and {key.shape}')
    if impl == 'chunked' and chunk_size < 1:
        raise ValueError(f'affinity_propagation: `chunk_size` must be >= 1, '
                         f'got {chunk_size}')
    out_dtype = value.dtype
    autocast = torch.is_autocast_enabled(query.device.type)
    if autocast or out_dtype in (torch.float16, torch.bfloat16):
        # float32 scores, softmax and propagation (see the module docstring)
        with torch.autocast(query.device.type, enabled=False):
            out = affinity_propagation(
                query.float(), key.float(), value.float(), impl, chunk_size,
                scale, block_bytes, keep_bytes)
        return out.to(out_dtype)
    need_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (query, key, value))
    if impl == 'rows':
        return _RowBlockAffinity.apply(query, key, value, float(scale),
                                       int(block_bytes),
                                       int(keep_bytes) if need_grad else 0)
    if scale != 1.0:
        query = query * scale
    if impl == 'naive':
        return _explicit(query, key, value)
    if impl == 'sdpa':
        return _sdpa(query, key, value)
    outs = []
    for start in range(0, query.shape[1], chunk_size):
        q = query[:, start:start + chunk_size]
        if need_grad:
            outs.append(checkpoint(_explicit, q, key, value,
                                   use_reentrant=False))
        else:
            outs.append(_explicit(q, key, value))
    return torch.cat(outs, dim=1)
