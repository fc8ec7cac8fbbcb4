"""Feature pyramid from a plain (single-scale) Vision Transformer.

A ViT/16 gives every selected layer at 1/16 of the input. As in ViTDet (Li et
al., "Exploring Plain Vision Transformer Backbones for Object Detection",
ECCV 2022) and the ViT decoders of InvPT / MT-CP, each selected layer is
brought to its own scale with transposed convolutions (up) or max pooling
(down), then projected by a 1x1 and a 3x3 ConvModule.

mmseg's ``MultiLevelNeck`` does the resampling with bilinear interpolation
only and gives every level the same width; this neck learns the upsampling
and lets every level have its own width.
"""
import math
from typing import List, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import (ConvModule, build_activation_layer, build_norm_layer,
                      build_upsample_layer)
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class ViTPyramidNeck(BaseModule):
    """Resample single-scale ViT features into a multi-scale pyramid.

    Args:
        in_channels (Sequence[int]): Channels of each input feature map.
        out_channels (int | Sequence[int]): Channels of each output level.
        scales (Sequence[float]): Resampling factor of each input, a power of
            two: ``4`` / ``2`` upsample with 2x2 stride-2 transposed
            convolutions, ``1`` keeps the map, ``0.5`` / ``0.25`` max-pool.
            Defaults to ``(4, 2, 1, 0.5)`` (1/16 -> 1/4, 1/8, 1/16, 1/32).
        norm_cfg (dict): Normalization layers. Defaults to BN.
        act_cfg (dict): Activation of the projections. Defaults to ReLU.
        upsample_act_cfg (dict): Activation between two transposed
            convolutions (4x upsampling). Defaults to GELU.
        init_cfg (dict | list[dict], optional): Initialization config.

    Returns:
        tuple[Tensor]: ``forward`` returns the levels in input order.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: Union[int, Sequence[int]],
                 scales: Sequence[float] = (4, 2, 1, 0.5),
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 upsample_act_cfg: ConfigType = dict(type='GELU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = list(in_channels)
        if isinstance(out_channels, int):
            out_channels = [out_channels] * len(in_channels)
        out_channels = list(out_channels)
        scales = list(scales)
        if not len(in_channels) == len(out_channels) == len(scales):
            raise ValueError(
                'ViTPyramidNeck: `in_channels`, `out_channels` and `scales` '
                f'need one entry per level, got {in_channels}, '
                f'{out_channels}, {scales}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scales = scales
        self.resamplers = nn.ModuleList()
        self.projections = nn.ModuleList()
        for c_in, c_out, scale in zip(in_channels, out_channels, scales):
            log2 = math.log2(scale)
            if scale <= 0 or log2 != int(log2):
                raise ValueError(f'ViTPyramidNeck: scale {scale} is not a '
                                 'power of two')
            layers: List[nn.Module] = []
            for i in range(int(log2)):
                if i > 0:
                    layers += [
                        build_norm_layer(norm_cfg, c_in)[1],
                        build_activation_layer(upsample_act_cfg)
                    ]
                layers.append(
                    build_upsample_layer(
                        dict(type='deconv'), c_in, c_in, kernel_size=2,
                        stride=2))
            if log2 < 0:
                k = 2**int(-log2)
                layers.append(
                    nn.MaxPool2d(kernel_size=k, stride=k, ceil_mode=True))
            self.resamplers.append(nn.Sequential(*layers))
            self.projections.append(
                nn.Sequential(
                    ConvModule(c_in, c_out, 1, norm_cfg=norm_cfg,
                               act_cfg=act_cfg),
                    ConvModule(c_out, c_out, 3, padding=1,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)))

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Resample and project each input map."""
        if len(inputs) != len(self.resamplers):
            raise ValueError(f'ViTPyramidNeck expects {len(self.resamplers)} '
                             f'feature maps, got {len(inputs)}')
        # mmpretrain's ViT returns its maps as channels-last views of the
        # token sequence; in that layout every convolution after it (and
        # its output) stays channels-last, and the CPU backward pass of a
        # 3x3 convolution is 2-3x slower than in NCHW
        # (tools/benchmarks/benchmark_train_step.py --profile)
        return tuple(
            proj(res(x.contiguous()))
            for res, proj, x in zip(self.resamplers, self.projections, inputs))
