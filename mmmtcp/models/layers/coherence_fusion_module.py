"""Coherence Fusion Module (CFM) of MT-CP.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025.

For a task t, the other tasks' decoder features decide which pixels belong
together and task t's own features are spread along that structure:

1. ``V = BN(CBAM(X_t))``: the task's features, refined by channel and spatial
   attention.
2. Each other task's ``X_s`` is gated, ``X_s * sigmoid(conv1x1(X_s))``; the
   gated maps are concatenated and fused, ``F = ReLU(conv1x1(cat))``.
3. Two attention-refined views of ``F``: the receiving view
   ``R = ReLU(BN(CBAM_k(F)))`` (submodules ``key_cbam``, ``key_out``) and
   the sending view ``S = ReLU(BN(CBAM_q(F)))`` (``query_cbam``,
   ``query_out``).
4. Affinity ``A = softmax(s R^T S)`` over all positions (rows: receiving
   positions; ``s = attn_scale``, 1 in the reference, i.e. no ``1/sqrt(d)``
   scale) and
   ``Y = V A^T``, i.e. every position receives an affinity-weighted average
   of ``V``.
5. Output ``BN(CBAM_o(Y))``, plus ``X_t`` when ``residual=True``.

In the terms of dot-product attention the receiving view is the query
and the sending view the key: :func:`affinity_propagation` is called with
``query=R``, ``key=S``, ``value=V``. The submodules are named the other
way round (``key_*`` computes ``R``, ``query_*`` computes ``S``; in the
reference, ``cbam_dep`` gives the rows ``theta`` and ``cbam_dep2`` the
columns ``phi``); they keep these names because checkpoints and the
per-module initialization seeds are keyed by module name.

The reference (``GAAF_module2``) materializes ``A``; here it is computed by
:func:`affinity_propagation` (``impl='auto'``: on the CPU by row blocks with
their own backward pass, keeping at most ``keep_bytes`` of it; PyTorch's
fused attention kernels on other devices), and the sending positions can be
average-pooled by ``attn_downsample`` to cut the cost further. With
``with_cp=True`` the layers around the affinity (CBAMs, BNs, gates, fusion)
are recomputed in the backward pass instead of keeping their ``O(HW)``
activations, as ``with_cp`` does in mmseg/mmdet backbones, and none of the
affinity is kept.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from .affinity_propagation import (AFFINITY_IMPLS, DEFAULT_BLOCK_BYTES,
                                   DEFAULT_KEEP_BYTES, affinity_propagation)
from .cbam import CBAM

#: Score blocks of the row-block affinity under ``with_cp`` (smaller than
#: the default: its two block buffers are then most of the backward memory).
CP_BLOCK_BYTES = 16 * 2**20


@MODELS.register_module()
class CoherenceFusionModule(BaseModule):
    """Cross-task coherence fusion for one target task.

    Args:
        channels (int): Channels of the target task's features ``X_t`` (and
            of the output).
        other_channels (Sequence[int]): Channels of each other task's
            features, in the order they are passed to ``forward``.
        fuse_channels (int, optional): Channels of the fused map ``F`` and of
            its receiving and sending views. Defaults to
            ``sum(other_channels)`` (the reference).
        attn_downsample (int): Average-pool factor applied to the sending
            positions (``S`` and ``V``) of the affinity. ``1`` keeps all
            positions (exactly the reference function). Defaults to 1.
        impl (str): ``'auto'``, ``'rows'``, ``'sdpa'``, ``'chunked'`` or
            ``'naive'`` (see :func:`affinity_propagation`; all compute the
            same function). Defaults to ``'auto'``.
        chunk_size (int): Receiving positions per chunk for
            ``impl='chunked'``. Defaults to 4096.
        keep_bytes (int): The row-block kernel (``impl='rows'``, the CPU
            choice of ``'auto'``) keeps the affinity's probabilities for the
            backward pass while they fit in this many bytes and recomputes
            the rest there (one more ``R^T S`` product for those rows).
            Defaults to 1 GiB (:data:`DEFAULT_KEEP_BYTES`).
        with_cp (bool): Recompute the layers before and after the affinity
            in the backward pass (activation checkpointing, one branch at a
            time) and keep none of the affinity's probabilities (computed in
            blocks of 16 MiB of scores instead of 64 MiB), to save
            training memory at the cost of one more forward pass of those
            layers and of the ``R^T S`` product. Their BN running
            statistics are then updated twice per step (as in every
            ``with_cp`` block of mmseg/mmdet). Defaults to False.
        residual (bool): Add ``X_t`` to the output. The released reference
            module has this residual disabled. Defaults to False.
        reduction (int): CBAM channel reduction ratio. Defaults to 16.
        attn_scale (float | str): Multiplier of the ``R^T S`` dot products
            before the softmax. ``1.0`` is the reference (no scale);
            ``'sqrt'`` uses ``1/sqrt(fuse_channels)`` as in dot-product
            attention. ``R`` and ``S`` are ReLU(BN(.)) maps, so every dot
            product is a sum of ``fuse_channels`` non-negative terms: without
            the scale the logits have a spread of order ``sqrt(d)`` already
            at initialization, the softmax is nearly one-hot (every position
            copies one or two other positions) and its gradient vanishes.
            Defaults to 1.0.
        norm_cfg (dict): Normalization layers. Defaults to BN.
        cbam_norm_cfg (dict, optional): Normalization of the CBAMs' spatial
            gates. The released code uses BN with momentum 0.01 there
            (``dict(type='BN', momentum=0.01)``) and the default momentum
            elsewhere. Defaults to ``norm_cfg``.
        act_cfg (dict): Activation layers. Defaults to ReLU.
        init_cfg (dict | list[dict], optional): Initialization config.

    Returns:
        Tensor: ``forward(x, others)`` returns ``(B, channels, H, W)``.
    """

    def __init__(self,
                 channels: int,
                 other_channels: Sequence[int],
                 fuse_channels: Optional[int] = None,
                 attn_downsample: int = 1,
                 impl: str = 'auto',
                 chunk_size: int = 4096,
                 keep_bytes: int = DEFAULT_KEEP_BYTES,
                 with_cp: bool = False,
                 residual: bool = False,
                 reduction: int = 16,
                 attn_scale: Union[float, str] = 1.0,
                 norm_cfg: ConfigType = dict(type='BN'),
                 cbam_norm_cfg: OptConfigType = None,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        other_channels = list(other_channels)
        if not other_channels:
            raise ValueError('CoherenceFusionModule needs at least one other '
                             'task (`other_channels` is empty)')
        if impl not in AFFINITY_IMPLS:
            raise ValueError(f'CoherenceFusionModule: `impl` must be one of '
                             f'{AFFINITY_IMPLS}, got {impl!r}')
        if int(keep_bytes) < 0:
            raise ValueError('CoherenceFusionModule: `keep_bytes` must be '
                             f'>= 0, got {keep_bytes}')
        if int(attn_downsample) < 1:
            raise ValueError('CoherenceFusionModule: `attn_downsample` must '
                             f'be >= 1, got {attn_downsample}')
        fuse_channels = fuse_channels or sum(other_channels)
        self.channels = channels
        self.other_channels = other_channels
        self.impl = impl
        self.chunk_size = chunk_size
        self.keep_bytes = int(keep_bytes)
        self.with_cp = with_cp
        self.attn_downsample = int(attn_downsample)
        self.residual = residual
        if isinstance(attn_scale, str):
            if attn_scale != 'sqrt':
                raise ValueError('CoherenceFusionModule: `attn_scale` must be '
                                 f"a positive number or 'sqrt', got "
                                 f'{attn_scale!r}')
            attn_scale = fuse_channels**-0.5
        attn_scale = float(attn_scale)
        if not attn_scale > 0 or attn_scale == float('inf'):
            raise ValueError('CoherenceFusionModule: `attn_scale` must be a '
                             f'positive finite number, got {attn_scale!r}')
        self.attn_scale = attn_scale

        if cbam_norm_cfg is None:
            cbam_norm_cfg = norm_cfg
        self.value_cbam = CBAM(channels, reduction, norm_cfg=cbam_norm_cfg)
        self.value_norm = build_norm_layer(norm_cfg, channels)[1]
        self.gates = nn.ModuleList([
            ConvModule(c, c, 1, norm_cfg=None, act_cfg=None)
            for c in other_channels
        ])
        self.fuse = ConvModule(
            sum(other_channels), fuse_channels, 1, norm_cfg=None,
            act_cfg=act_cfg)
        self.key_cbam = CBAM(fuse_channels, reduction,
                             norm_cfg=cbam_norm_cfg)
        self.key_out = self._norm_act(fuse_channels, norm_cfg, act_cfg)
        self.query_cbam = CBAM(fuse_channels, reduction,
                               norm_cfg=cbam_norm_cfg)
        self.query_out = self._norm_act(fuse_channels, norm_cfg, act_cfg)
        self.out_cbam = CBAM(channels, reduction,
                             norm_cfg=cbam_norm_cfg)
        self.out_norm = build_norm_layer(norm_cfg, channels)[1]

    @staticmethod
    def _norm_act(channels: int, norm_cfg: ConfigType,
                  act_cfg: ConfigType) -> nn.Module:
        return nn.Sequential(
            build_norm_layer(norm_cfg, channels)[1],
            build_activation_layer(act_cfg))

    def _value(self, x: Tensor) -> Tensor:
        """``V``: the target task's refined features."""
        return self.value_norm(self.value_cbam(x))

    def _fused(self, *others: Tensor) -> Tensor:
        """``F``: the other tasks' gated and fused features."""
        gated = [o * torch.sigmoid(g(o)) for g, o in zip(self.gates, others)]
        return self.fuse(torch.cat(gated, dim=1))

    def _receiving(self, fused: Tensor) -> Tensor:
        """``R``: the receiving positions' view of ``F`` (the attention
        query), computed by the ``key_*`` submodules."""
        return self.key_out(self.key_cbam(fused))

    def _sending(self, fused: Tensor) -> Tensor:
        """``S``: the sending positions' view of ``F`` (the attention key),
        computed by the ``query_*`` submodules."""
        return self.query_out(self.query_cbam(fused))

    def _output(self, out: Tensor) -> Tensor:
        return self.out_norm(self.out_cbam(out))

    def forward(self, x: Tensor, others: List[Tensor]) -> Tensor:
        """Fuse.

        Args:
            x (Tensor): ``(B, channels, H, W)`` target task features ``X_t``.
            others (list[Tensor]): Other tasks' features, each
                ``(B, other_channels[i], H, W)``.

        Returns:
            Tensor: ``(B, channels, H, W)``.
        """
        if len(others) != len(self.gates):
            raise ValueError(f'CoherenceFusionModule expects '
                             f'{len(self.gates)} other task features, got '
                             f'{len(others)}')
        with_cp = self.with_cp and self.training and torch.is_grad_enabled()
        if with_cp:
            # one checkpoint per branch: the backward pass recomputes one
            # branch's activations at a time
            def run(fn, *args):
                return cp.checkpoint(fn, *args, use_reentrant=False)
        else:
            def run(fn, *args):
                return fn(*args)

        value = run(self._value, x)
        fused = run(self._fused, *others)
        receiving = run(self._receiving, fused)
        sending = run(self._sending, fused)
        del fused
        b, c, h, w = value.shape
        if self.attn_downsample > 1:
            ds = self.attn_downsample
            sending = F.avg_pool2d(sending, ds, ds, ceil_mode=True)
            value = F.avg_pool2d(value, ds, ds, ceil_mode=True)
        out = affinity_propagation(
            query=receiving.flatten(2).transpose(1, 2),
            key=sending.flatten(2).transpose(1, 2),
            value=value.flatten(2).transpose(1, 2),
            impl=self.impl,
            chunk_size=self.chunk_size,
            scale=self.attn_scale,
            block_bytes=CP_BLOCK_BYTES if with_cp else DEFAULT_BLOCK_BYTES,
            keep_bytes=0 if with_cp else self.keep_bytes)
        out = run(self._output, out.transpose(1, 2).reshape(b, c, h, w))
        if self.residual:
            out = out + x
        return out
