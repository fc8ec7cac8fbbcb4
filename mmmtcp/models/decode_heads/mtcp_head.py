"""The MT-CP multi-task head.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025.

Per task: a :class:`TaskDecoder` (task features at every scale, fused into
``X_t``), a :class:`CoherenceFusionModule` that spreads ``X_t`` along the
affinity the other tasks' features define, a :class:`SpatialRefinementModule`
that walks back up the task's own pyramid (1/16 -> 1/8 -> 1/4) with side
outputs on the coarse steps, and an output layer on the finest step.
"""
from typing import Dict, Optional, Sequence

import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType
from ..layers import CoherenceFusionModule, SpatialRefinementModule
from .base_multi_task_head import BaseMultiTaskHead, HeadOutputs


@MODELS.register_module()
class MTCPHead(BaseMultiTaskHead):
    """Task decoders + CFM + SRM trace-back + per-task outputs.

    Args:
        cfm (dict): Extra arguments of every :class:`CoherenceFusionModule`
            (``impl``, ``attn_downsample``, ``fuse_channels``, ``residual``,
            ``chunk_size``, ``reduction``). With a single task there is no
            other task and the CFM is skipped. Defaults to ``dict()``.
        srm (dict): Extra arguments of every :class:`SpatialRefinementModule`
            (``reduction``). Defaults to ``dict()``.
        trace_levels (int): Decoder scales the SRM walks back over, starting
            from the finest (3: 1/4, 1/8, 1/16 for a 1/4..1/32 pyramid). The
            ``trace_levels - 1`` coarse steps get side outputs. Defaults to 3.
        **kwargs: Arguments of :class:`BaseMultiTaskHead` (``tasks``,
            ``in_channels``, ``channels``, ``num_classes``, ``in_index``,
            ``decoder``, ``loss_decode``, ``side_loss_weight``, ``norm_cfg``,
            ``act_cfg``, ``align_corners``, ``init_cfg``).

    Returns:
        dict: ``forward`` returns ``dict(preds, side_preds, feats)`` (see
        :mod:`mmmtcp.models.decode_heads.base_multi_task_head`); the side
        predictions are ordered coarse to fine.
    """

    def __init__(self,
                 cfm: ConfigType = dict(),
                 srm: ConfigType = dict(),
                 trace_levels: int = 3,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not 1 <= trace_levels <= len(self.in_channels):
            raise ValueError(
                f'`decode_head.trace_levels` must be in [1, '
                f'{len(self.in_channels)}] (the number of input levels), got '
                f'{trace_levels}')
        self.trace_levels = trace_levels
        c = self.channels
        common = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        if len(self.tasks) > 1:
            self.cfms = nn.ModuleDict({
                task: CoherenceFusionModule(
                    c, [c] * (len(self.tasks) - 1), **common, **cfm)
                for task in self.tasks
            })
        else:
            self.cfms = None
        self.srms = nn.ModuleDict({
            task: SpatialRefinementModule(
                c, [c] * trace_levels, c, align_corners=self.align_corners,
                **common, **srm)
            for task in self.tasks
        })
        self.side_outputs = nn.ModuleDict({
            task: nn.ModuleList([
                self._build_output(c, self.out_channels[task])
                for _ in range(trace_levels - 1)
            ])
            for task in self.tasks
        })

    def forward(self,
                inputs: Sequence[Tensor],
                with_side: Optional[bool] = None) -> HeadOutputs:
        """Decode, fuse across tasks, refine and predict.

        Args:
            inputs (Sequence[Tensor]): Backbone/neck levels, fine to coarse.
            with_side (bool, optional): Compute the side outputs. Defaults to
                ``self.training``.
        """
        if with_side is None:
            with_side = self.training
        decoded = self.decode(inputs)
        feats: Dict[str, Tensor] = {t: decoded[t][0] for t in self.tasks}
        preds, side_preds = {}, {}
        for task in self.tasks:
            x = feats[task]
            if self.cfms is not None:
                others = [feats[s] for s in self.tasks if s != task]
                x = self.cfms[task](x, others)
            pyramid = decoded[task][1][:self.trace_levels]
            refined = self.srms[task](x, pyramid, return_all=with_side)
            preds[task] = self.outputs[task](refined[-1])
            if with_side:
                side_preds[task] = [
                    head(r)
                    for head, r in zip(self.side_outputs[task], refined[:-1])
                ]
        return dict(preds=preds, side_preds=side_preds, feats=feats)
