"""Spatial Refinement Module (the "trace-back") of MT-CP.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025.

Starting from the task's CFM output, the module walks back up the task
decoder's own pyramid from the coarsest to the finest scale (1/16 -> 1/8 ->
1/4 by default). Each step applies CBAM to the incoming stream and to that
scale's decoder features, resizes the stream to the scale, concatenates the
two and projects the result with 1x1 conv + BN + ReLU twice: once into a
prediction feature of that scale (side supervision on the coarse steps, the
final prediction at the finest) and once into the stream passed on to the
next step.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from .cbam import CBAM


class _RefinementStep(nn.Module):
    """One trace-back step (the reference's ``SPF``)."""

    def __init__(self, stream_channels: int, feat_channels: int,
                 channels: int, reduction: int, norm_cfg: ConfigType,
                 cbam_norm_cfg: ConfigType, act_cfg: ConfigType,
                 align_corners: bool, with_stream: bool) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.stream_cbam = CBAM(
            stream_channels, reduction, norm_cfg=cbam_norm_cfg)
        self.feat_cbam = CBAM(feat_channels, reduction, norm_cfg=cbam_norm_cfg)
        cat_channels = stream_channels + feat_channels
        self.pred_proj = ConvModule(
            cat_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        # the finest step passes nothing on
        self.stream_proj = ConvModule(
            cat_channels, feat_channels, 1, norm_cfg=norm_cfg,
            act_cfg=act_cfg) if with_stream else None

    def forward(
            self, stream: Tensor, feat: Tensor,
            with_pred: bool) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        stream = self.stream_cbam(stream)
        feat = self.feat_cbam(feat)
        stream = resize(
            stream,
            size=feat.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        cat = torch.cat([stream, feat], dim=1)
        pred = self.pred_proj(cat) if with_pred else None
        if self.stream_proj is None:
            return pred, None
        return pred, self.stream_proj(cat)


@MODELS.register_module()
class SpatialRefinementModule(BaseModule):
    """Coarse-to-fine trace-back over a task decoder's pyramid.

    Args:
        in_channels (int): Channels of the initial stream (the CFM output).
        feat_channels (Sequence[int]): Channels of the decoder features the
            module walks over, ordered fine to coarse (e.g. 1/4, 1/8, 1/16).
        channels (int): Channels of the prediction features of every step.
            Defaults to 256.
        reduction (int): CBAM channel reduction ratio. Defaults to 16.
        norm_cfg (dict): Normalization layers. Defaults to BN.
        cbam_norm_cfg (dict, optional): Normalization of the CBAMs' spatial
            gates (the released code: BN with momentum 0.01). Defaults to
            ``norm_cfg``.
        act_cfg (dict): Activation layers. Defaults to ReLU.
        align_corners (bool): ``align_corners`` of the resizes.
        init_cfg (dict | list[dict], optional): Initialization config.

    Returns:
        list[Tensor]: ``forward`` returns the prediction features of the
        steps, coarse to fine; when ``return_all=False`` only the finest
        one (the coarse steps' prediction projections are skipped).
    """

    def __init__(self,
                 in_channels: int,
                 feat_channels: Sequence[int],
                 channels: int = 256,
                 reduction: int = 16,
                 norm_cfg: ConfigType = dict(type='BN'),
                 cbam_norm_cfg: OptConfigType = None,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        feat_channels = list(feat_channels)
        if not feat_channels:
            raise ValueError('SpatialRefinementModule: `feat_channels` is '
                             'empty')
        self.num_steps = len(feat_channels)
        self.steps = nn.ModuleList()
        stream_channels = in_channels
        for i, c in enumerate(reversed(feat_channels)):
            self.steps.append(
                _RefinementStep(stream_channels, c, channels, reduction,
                                norm_cfg, cbam_norm_cfg or norm_cfg, act_cfg,
                                align_corners,
                                with_stream=i < self.num_steps - 1))
            stream_channels = c

    def forward(self,
                x: Tensor,
                feats: Sequence[Tensor],
                return_all: bool = True) -> List[Tensor]:
        """Refine.

        Args:
            x (Tensor): Initial stream, e.g. the CFM output at 1/4.
            feats (Sequence[Tensor]): Decoder features, fine to coarse.
            return_all (bool): Return the prediction features of every step
                (coarse to fine) or only of the finest.

        Returns:
            list[Tensor]: Prediction features.
        """
        if len(feats) != self.num_steps:
            raise ValueError(f'SpatialRefinementModule expects '
                             f'{self.num_steps} feature maps, got '
                             f'{len(feats)}')
        preds = []
        stream = x
        for i, (step, feat) in enumerate(zip(self.steps, reversed(feats))):
            last = i == self.num_steps - 1
            pred, stream = step(stream, feat, with_pred=return_all or last)
            if pred is not None:
                preds.append(pred)
        return preds
