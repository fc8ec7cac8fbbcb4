"""Top-down (FPN) fusion of a task's multi-scale features into ``X_t``.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025.

Mirrors ``DynamicFPNFusionModule`` of the released code
(``models/models_nyud_CL.py``, ``models/models_pascal_CL.py``): a 1x1
lateral convolution per level, a top-down pathway (the coarser sum is
upsampled to the finer level's size and added to its lateral), a 3x3
convolution per level on that level's sum, and the finest level's result as
the task map ``X_t``. The release uses plain convolutions with bias and
nearest upsampling, which are the defaults here; ``norm_cfg``/``act_cfg``
turn every convolution into a conv-norm-activation block.
"""
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, OptMultiConfig


@MODELS.register_module()
class FPNFusion(BaseModule):
    """Lateral 1x1 convs, top-down sum and a 3x3 conv per level.

    For levels ``0`` (finest) to ``n - 1`` (coarsest) with laterals
    ``l_i = lateral_i(x_i)``, the top-down sums are ``s_{n-1} = l_{n-1}`` and
    ``s_i = l_i + up(s_{i+1})`` where ``up`` resizes to the size of ``l_i``;
    the level outputs are ``o_i = fpn_i(s_i)`` and ``X_t = o_0``.

    Args:
        in_channels (Sequence[int]): Channels of the input levels, fine to
            coarse.
        channels (int): Channels of the laterals and of every output.
        upsample_mode (str): Interpolation of the top-down pathway:
            ``'nearest'`` (the release) or ``'bilinear'``. Defaults to
            ``'nearest'``.
        all_levels (bool): Build the 3x3 output conv of every level and
            return every level's output. ``False`` builds only the finest
            one (the release builds one per level but reads only the finest,
            so the others receive no gradient when the coarser outputs are
            not used downstream). Defaults to True.
        conv_cfg (dict, optional): Convolution layers. Defaults to None
            (``Conv2d``).
        norm_cfg (dict, optional): Normalization after every convolution.
            Defaults to None (the release: none).
        act_cfg (dict, optional): Activation after every convolution.
            Defaults to None (the release: none).
        align_corners (bool): ``align_corners`` of a bilinear top-down
            pathway (ignored for ``'nearest'``). Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.
    """

    UPSAMPLE_MODES = ('nearest', 'bilinear')

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 upsample_mode: str = 'nearest',
                 all_levels: bool = True,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = None,
                 act_cfg: OptConfigType = None,
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = list(in_channels)
        if not in_channels:
            raise ValueError('FPNFusion: `in_channels` is empty')
        if upsample_mode not in self.UPSAMPLE_MODES:
            raise ValueError(f'FPNFusion: `upsample_mode` must be one of '
                             f'{self.UPSAMPLE_MODES}, got {upsample_mode!r}')
        self.in_channels = in_channels
        self.channels = channels
        self.upsample_mode = upsample_mode
        self.all_levels = all_levels
        self.align_corners = align_corners
        self.lateral_convs = nn.ModuleList([
            ConvModule(c, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                       act_cfg=act_cfg) for c in in_channels
        ])
        num_outs = len(in_channels) if all_levels else 1
        self.fpn_convs = nn.ModuleList([
            ConvModule(channels, channels, 3, padding=1, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg, act_cfg=act_cfg)
            for _ in range(num_outs)
        ])

    def _upsample(self, x: Tensor, size: Sequence[int]) -> Tensor:
        """Resize the coarser sum to a finer level's spatial size."""
        if self.upsample_mode == 'nearest':
            return resize(x, size=tuple(size), mode='nearest')
        return resize(x, size=tuple(size), mode=self.upsample_mode,
                      align_corners=self.align_corners)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, List[Tensor]]:
        """Fuse the levels top-down.

        Args:
            feats (Sequence[Tensor]): One map per entry of ``in_channels``,
                fine to coarse.

        Returns:
            tuple[Tensor, list[Tensor]]: ``(x_t, outs)``: the finest output
            and the per-level outputs, fine to coarse (only ``[x_t]`` when
            ``all_levels`` is False).
        """
        if len(feats) != len(self.lateral_convs):
            raise ValueError(f'FPNFusion expects {len(self.lateral_convs)} '
                             f'feature maps (`in_channels`), got '
                             f'{len(feats)}')
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, feats)]
        fused = laterals[-1]
        sums: List[Optional[Tensor]] = [None] * len(laterals)
        sums[-1] = fused
        for i in range(len(laterals) - 2, -1, -1):
            fused = laterals[i] + self._upsample(fused, laterals[i].shape[2:])
            sums[i] = fused
        if not self.all_levels:
            x_t = self.fpn_convs[0](sums[0])
            return x_t, [x_t]
        outs = [conv(s) for conv, s in zip(self.fpn_convs, sums)]
        return outs[0], outs
