"""Per-task decoder of MT-CP.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025.

Each task owns a decoder that turns the shared multi-scale features into
task features at every scale (a few conv stages per scale) and fuses them
top-down, FPN style, into the task's map ``X_t`` at the finest scale.
"""
from typing import List, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class TaskDecoder(BaseModule):
    """Conv stages per scale and a top-down fusion into ``X_t``.

    Args:
        in_channels (Sequence[int]): Channels of the shared features, fine
            to coarse (e.g. 1/4, 1/8, 1/16, 1/32).
        channels (int): Channels of every task feature and of ``X_t``.
            Defaults to 256.
        num_convs (int): 3x3 ConvModules per scale after the 1x1 lateral
            projection. Defaults to 2.
        norm_cfg (dict): Normalization layers. Defaults to BN.
        act_cfg (dict): Activation layers. Defaults to ReLU.
        align_corners (bool): ``align_corners`` of the upsampling.
        pyramid (str): Which per-scale features ``forward`` returns for the
            trace-back. ``'lateral'``: each scale's own conv-stage output,
            before the top-down fusion; this is what the MT-CP reference
            traces back over (its SPF steps read the task transformer's
            stage outputs, which its FPN module fuses into ``X_t`` but which
            are never replaced by the fused maps). ``'fused'`` (default): the
            top-down (FPN) outputs, where every scale already carries the
            coarser scales' context. Defaults to ``'fused'``.
        fuse_mode (str): Upsampling of the top-down sum: ``'bilinear'``
            or ``'nearest'`` (the released code's FPN fusion). Defaults to
            ``'bilinear'``.
        init_cfg (dict | list[dict], optional): Initialization config.

    Returns:
        tuple: ``forward`` returns ``(x_t, feats)``: ``x_t`` the fused map at
        the finest scale and ``feats`` the per-scale task features (see
        ``pyramid``), fine to coarse.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 256,
                 num_convs: int = 2,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 pyramid: str = 'fused',
                 fuse_mode: str = 'bilinear',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pyramid not in ('fused', 'lateral'):
            raise ValueError("TaskDecoder: `pyramid` must be 'fused' or "
                             f"'lateral', got {pyramid!r}")
        self.pyramid = pyramid
        if fuse_mode not in ('bilinear', 'nearest'):
            raise ValueError("TaskDecoder: `fuse_mode` must be 'bilinear' or "
                             f"'nearest', got {fuse_mode!r}")
        self.fuse_mode = fuse_mode
        in_channels = list(in_channels)
        if not in_channels:
            raise ValueError('TaskDecoder: `in_channels` is empty')
        self.in_channels = in_channels
        self.channels = channels
        self.align_corners = align_corners
        #: channels of the returned per-scale features, fine to coarse
        self.pyramid_channels: List[int] = [channels] * len(in_channels)
        self.stages = nn.ModuleList()
        for c in in_channels:
            layers = [ConvModule(c, channels, 1, norm_cfg=norm_cfg,
                                 act_cfg=act_cfg)]
            layers += [
                ConvModule(channels, channels, 3, padding=1,
                           norm_cfg=norm_cfg, act_cfg=act_cfg)
                for _ in range(num_convs)
            ]
            self.stages.append(nn.Sequential(*layers))
        self.fpn_conv = ConvModule(
            channels, channels, 3, padding=1, norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, List[Tensor]]:
        """Decode the shared features (fine to coarse) for one task."""
        if len(inputs) != len(self.stages):
            raise ValueError(f'TaskDecoder expects {len(self.stages)} '
                             f'feature maps, got {len(inputs)}')
        feats = [stage(x) for stage, x in zip(self.stages, inputs)]
        fused = feats[-1]
        top_down = [fused]
        for feat in reversed(feats[:-1]):
            fused = feat + resize(
                fused,
                size=feat.shape[2:],
                mode=self.fuse_mode,
                align_corners=(None if self.fuse_mode == 'nearest' else
                               self.align_corners))
            top_down.insert(0, fused)
        pyramid = top_down if self.pyramid == 'fused' else feats
        return self.fpn_conv(fused), pyramid
