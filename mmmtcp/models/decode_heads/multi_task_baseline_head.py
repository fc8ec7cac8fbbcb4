"""Plain multi-task head: one decoder and one output per task.

The usual multi-task baseline of the dense prediction literature (a shared
backbone with independent task heads), with the same task decoders as MT-CP
(Fontana et al., WACV 2025) so that the effect of the CFM and SRM can be
measured in isolation. With a single task it is the single-task baseline
used for the multi-task gain delta_m.
"""
from typing import Optional, Sequence

from torch import Tensor

from mmseg.registry import MODELS
from .base_multi_task_head import BaseMultiTaskHead, HeadOutputs


@MODELS.register_module()
class MultiTaskBaselineHead(BaseMultiTaskHead):
    """Task decoders with a direct per-task prediction from ``X_t``.

    Args:
        **kwargs: Arguments of :class:`BaseMultiTaskHead` (``tasks``,
            ``in_channels``, ``channels``, ``num_classes``, ``in_index``,
            ``decoder``, ``loss_decode``, ``side_loss_weight``, ``norm_cfg``,
            ``act_cfg``, ``align_corners``, ``init_cfg``).

    Returns:
        dict: ``forward`` returns ``dict(preds, side_preds, feats)`` with
        empty ``side_preds``.
    """

    def forward(self,
                inputs: Sequence[Tensor],
                with_side: Optional[bool] = None) -> HeadOutputs:
        """Decode every task and predict from its fused map."""
        decoded = self.decode(inputs)
        feats = {t: decoded[t][0] for t in self.tasks}
        preds = {t: self.outputs[t](feats[t]) for t in self.tasks}
        return dict(preds=preds, side_preds={}, feats=feats)
