"""Unscaled softmax affinity propagation over all positions.

The Coherence Fusion Module of MT-CP (Fontana et al., WACV 2025) spreads a
task's features along a pixel affinity ``softmax(K^T Q)`` computed from the
other tasks' features, without the ``1/sqrt(d)`` scale of dot-product
attention. Written out, the affinity is an ``N x M`` matrix (``N = M = HW``:
19,200^2 floats per image at 1/4 of 480x640). The implementations here
compute the same function:

- ``'sdpa'``: :func:`torch.nn.functional.scaled_dot_product_attention` with
  ``scale=1.0``; PyTorch picks a fused kernel that never stores the matrix
  (flash / memory-efficient kernels on CPU and GPU).
- ``'chunked'``: rows of the affinity in chunks of ``chunk_size`` queries,
  each chunk recomputed in the backward pass (activation checkpointing), so
  at most ``chunk_size x M`` scores exist at a time, forward and backward.
- ``'naive'``: the explicit matrix, for reference and testing.
"""
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

AFFINITY_IMPLS = ('sdpa', 'chunked', 'naive')


def _chunk(query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    attn = torch.softmax(torch.matmul(query, key.transpose(-1, -2)), dim=-1)
    return torch.matmul(attn, value)


def affinity_propagation(query: Tensor,
                         key: Tensor,
                         value: Tensor,
                         impl: str = 'sdpa',
                         chunk_size: int = 4096,
                         scale: float = 1.0) -> Tensor:
    """Compute ``softmax(scale * query @ key^T) @ value`` row-wise.

    Args:
        query (Tensor): ``(B, N, D)`` features of the positions that receive
            (the rows of the affinity).
        key (Tensor): ``(B, M, D)`` features of the positions that send.
        value (Tensor): ``(B, M, C)`` features that are propagated.
        impl (str): ``'sdpa'``, ``'chunked'`` or ``'naive'``.
        chunk_size (int): Rows per chunk for ``'chunked'``.
        scale (float): Multiplier of the dot products. MT-CP uses 1.0.

    Returns:
        Tensor: ``(B, N, C)`` propagated features.
    """
    if impl not in AFFINITY_IMPLS:
        raise ValueError(f'affinity_propagation: `impl` must be one of '
                         f'{AFFINITY_IMPLS}, got {impl!r}')
    if query.shape[-1] != key.shape[-1]:
        raise ValueError('affinity_propagation: query and key need the same '
                         f'feature size, got {query.shape} and {key.shape}')
    if scale != 1.0:
        query = query * scale
    if impl == 'naive':
        return _chunk(query, key, value)
    if impl == 'chunked':
        if chunk_size < 1:
            raise ValueError(f'affinity_propagation: `chunk_size` must be '
                             f'>= 1, got {chunk_size}')
        need_grad = torch.is_grad_enabled() and any(
            t.requires_grad for t in (query, key, value))
        outs = []
        for start in range(0, query.shape[1], chunk_size):
            q = query[:, start:start + chunk_size]
            if need_grad:
                outs.append(checkpoint(_chunk, q, key, value,
                                       use_reentrant=False))
            else:
                outs.append(_chunk(q, key, value))
        return torch.cat(outs, dim=1)
    # 'sdpa': fused kernels want one head size for query, key and value
    # (zero-padding the smaller one leaves every dot product and every
    # propagated channel unchanged) and a contiguous last dimension (else
    # PyTorch silently falls back to the explicit-matrix kernel).
    d, c = query.shape[-1], value.shape[-1]
    if c < d:
        value = F.pad(value, (0, d - c))
    elif d < c:
        query = F.pad(query, (0, c - d))
        key = F.pad(key, (0, c - d))
    out = F.scaled_dot_product_attention(
        query.unsqueeze(1).contiguous(), key.unsqueeze(1).contiguous(),
        value.unsqueeze(1).contiguous(), scale=1.0).squeeze(1)
    return out[..., :c]
