"""Convolutional Block Attention Module.

Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018. MT-CP
(Fontana et al., WACV 2025) uses it inside the Coherence Fusion Module and
the Spatial Refinement Module to re-weight features along channels and
positions.
"""
from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class CBAM(BaseModule):
    """Channel attention followed by spatial attention.

    The channel gate applies a shared two-layer MLP (1x1 convolutions) to the
    globally average- and max-pooled features, sums the two and scales the
    input channels by its sigmoid. The spatial gate pools the re-weighted
    features over channels (max and mean), applies a ``k x k`` convolution
    with normalization and scales every position by its sigmoid.

    Args:
        channels (int): Channels of the input (and output).
        reduction (int): Reduction ratio of the channel MLP. The hidden width
            is ``max(channels // reduction, 1)``. Defaults to 16.
        pool_types (Sequence[str]): Global poolings of the channel gate, any
            of ``'avg'`` and ``'max'``. Defaults to ``('avg', 'max')``.
        spatial_kernel (int): Kernel size of the spatial gate. Defaults to 7.
        norm_cfg (dict): Normalization of the spatial gate's convolution.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.

    Returns:
        Tensor: ``forward`` returns a tensor shaped like its input.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 16,
                 pool_types: Sequence[str] = ('avg', 'max'),
                 spatial_kernel: int = 7,
                 norm_cfg: ConfigType = dict(type='BN'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if channels < 1:
            raise ValueError(f'CBAM: `channels` must be >= 1, got {channels}')
        pool_types = tuple(pool_types)
        unknown = set(pool_types) - {'avg', 'max'}
        if not pool_types or unknown:
            raise ValueError('CBAM: `pool_types` must be a non-empty subset '
                             f"of ('avg', 'max'), got {pool_types}")
        hidden = max(channels // reduction, 1)
        self.pool_types = pool_types
        self.channel_mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1))
        self.spatial_conv = ConvModule(
            2,
            1,
            spatial_kernel,
            padding=spatial_kernel // 2,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=None)

    def forward(self, x: Tensor) -> Tensor:
        """Re-weight ``x`` (B, C, H, W) along channels, then positions."""
        gate = 0
        for pool_type in self.pool_types:
            if pool_type == 'avg':
                pooled = x.mean(dim=(2, 3), keepdim=True)
            else:
                pooled = x.amax(dim=(2, 3), keepdim=True)
            gate = gate + self.channel_mlp(pooled)
        x = x * torch.sigmoid(gate)
        pooled = torch.cat(
            [x.amax(dim=1, keepdim=True),
             x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial_conv(pooled))
