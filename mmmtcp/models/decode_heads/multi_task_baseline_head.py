"""Plain multi-task head: one decoder and one output per task.

The usual multi-task baseline of the dense prediction literature (a shared
backbone with independent task heads), with the same task decoders as MT-CP
(Fontana et al., WACV 2025) so that the effect of the CFM and SRM can be
measured in isolation. With a single task it is the single-task baseline
used for the multi-task gain delta_m.

With ``side_levels > 0`` it is the control of MT-CP's deep supervision:
side outputs read the task decoder's own coarse scales (1/16, 1/8 by
default), as MT-CP's trace-back side outputs do at the same scales, but
without any CFM or trace-back, so that a study can tell the effect of the
side losses from the effect of the cross-task branch.
"""
from typing import Optional, Sequence

import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS
from .base_multi_task_head import BaseMultiTaskHead, HeadOutputs


@MODELS.register_module()
class MultiTaskBaselineHead(BaseMultiTaskHead):
    """Task decoders with a direct per-task prediction from ``X_t``.

    Args:
        side_levels (int): Number of side outputs, on the decoder's per-scale
            features from the second finest up (``1`` reads 1/8, ``2`` reads
            1/16 and 1/8 of a 1/4..1/32 pyramid); they are ordered coarse to
            fine, as MT-CP's. ``0``: none (the plain baseline). Defaults to 0.
        **kwargs: Arguments of :class:`BaseMultiTaskHead` (``tasks``,
            ``in_channels``, ``channels``, ``num_classes``, ``in_index``,
            ``decoder``, ``loss_decode``, ``side_loss_decode``,
            ``side_loss_weight``, ``side_head``, ``norm_cfg``, ``act_cfg``,
            ``align_corners``, ``init_cfg``).

    Returns:
        dict: ``forward`` returns ``dict(preds, side_preds, feats)``;
        ``side_preds`` is empty when ``side_levels`` is 0.
    """

    def __init__(self, side_levels: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        levels = len(self.pyramid_channels)
        if not 0 <= side_levels < levels:
            raise ValueError(
                f'`decode_head.side_levels` must be in [0, {levels - 1}] '
                f'(the decoders return {levels} scales), got {side_levels}')
        self.side_levels = side_levels
        # coarse to fine: pyramid levels side_levels .. 1
        self.side_level_index = list(range(side_levels, 0, -1))
        self.side_outputs = nn.ModuleDict({
            task: nn.ModuleList([
                self._build_side_output(self.pyramid_channels[i],
                                        self.out_channels[task])
                for i in self.side_level_index
            ])
            for task in self.tasks
        }) if side_levels else None

    def forward(self,
                inputs: Sequence[Tensor],
                with_side: Optional[bool] = None) -> HeadOutputs:
        """Decode every task and predict from its fused map (and from the
        coarse scales when there are side outputs).

        Args:
            inputs (Sequence[Tensor]): Backbone/neck levels, fine to coarse.
            with_side (bool, optional): Compute the side outputs. Defaults to
                ``self.training``.
        """
        if with_side is None:
            with_side = self.training
        decoded = self.decode(inputs)
        feats = {t: decoded[t][0] for t in self.tasks}
        preds = {t: self.outputs[t](feats[t]) for t in self.tasks}
        side_preds = {}
        if with_side and self.side_outputs is not None:
            for task in self.tasks:
                pyramid = decoded[task][1]
                side_preds[task] = [
                    head(pyramid[i]) for head, i in zip(
                        self.side_outputs[task], self.side_level_index)
                ]
        return dict(preds=preds, side_preds=side_preds, feats=feats)
