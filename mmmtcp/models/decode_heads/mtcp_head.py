"""The MT-CP multi-task head.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025.

Per task: a :class:`TaskDecoder` (task features at every scale, fused into
``X_t``), a :class:`CoherenceFusionModule` that spreads ``X_t`` along the
affinity the other tasks' features define, a :class:`SpatialRefinementModule`
that walks back up the task's own pyramid (1/16 -> 1/8 -> 1/4) with side
outputs on the coarse steps, and an output layer on the finest step.

How the final prediction is formed (``refine``):

- ``'gated'`` (default): the trace-back *refines* the task decoder's own
  prediction. The output layer reads ``X_t + g_t * R_t``, where ``R_t`` is
  the trace-back's finest prediction feature and ``g_t`` a learnable
  per-channel gate initialized at 0, so training starts from the direct
  decoder prediction (the plain multi-task baseline) and the cross-task
  branch is added as far as it helps. This is the paper's description
  (the trace-back refines an initial prediction, Figures 2 and 4).
- ``'reference'``: the wiring of the released code (``MultiTaskModel_NYUD``
  with ``TraceBack``/``GAAF_module2``): the output layer reads ``R_t`` only.
  ``X_t`` reaches the output only through the CFM (no residual) and the
  trace-back's first step, which shrinks it to the coarsest scale, so the
  decoder's fine map never reaches the prediction at 1/4 directly.
- ``'residual'``: the output layer reads ``X_t + P(R_t)`` with ``P`` a 1x1
  convolution initialized at zero: training starts from the direct decoder
  prediction as with the gate, but the branch's contribution is a whole
  layer of weights that the main loss trains from the first step (a scalar
  gate moves by about the learning rate per AdamW step).

The forms are compared over paired seeds in the README section "MT-CP as
its authors ran it: the study".
"""
from typing import Dict, Optional, Sequence

import torch
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
            ``trace_levels - 1`` coarse steps get side outputs. ``0`` drops
            the SRM (the CFM output is the refinement feature; an ablation).
            Defaults to 3.
        refine (str): How the final prediction is formed: ``'gated'``
            (decoder map plus the gated trace-back branch),
            ``'reference'`` (trace-back only, as the released code) or
            ``'residual'`` (decoder map plus a zero-initialized 1x1
            projection of the trace-back). See the module docstring.
            Defaults to ``'gated'``.
        gate_init (float): Initial value of the per-channel gates of
            ``refine='gated'``. Defaults to 0.
        detach_branch (bool): Stop the gradient of the CFM/trace-back branch
            (main and side losses) at its inputs, the decoders' features:
            the backbone and decoders then train exactly as in the plain
            baseline and the branch learns on top of them. A diagnostic of
            where the branch's effect comes from. Defaults to False.
        **kwargs: Arguments of :class:`BaseMultiTaskHead` (``tasks``,
            ``in_channels``, ``channels``, ``num_classes``, ``in_index``,
            ``decoder``, ``loss_decode``, ``side_loss_decode``,
            ``side_loss_weight``, ``side_head``, ``norm_cfg``, ``act_cfg``,
            ``align_corners``, ``init_cfg``). The trace-back walks over the
            decoders' per-scale features (``pyramid_channels``).

    Returns:
        dict: ``forward`` returns ``dict(preds, side_preds, feats)`` (see
        :mod:`mmmtcp.models.decode_heads.base_multi_task_head`); the side
        predictions are ordered coarse to fine.
    """

    REFINE_MODES = ('gated', 'reference', 'residual')

    def __init__(self,
                 cfm: ConfigType = dict(),
                 srm: ConfigType = dict(),
                 trace_levels: int = 3,
                 refine: str = 'gated',
                 gate_init: float = 0.0,
                 detach_branch: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if refine not in self.REFINE_MODES:
            raise ValueError(f'`decode_head.refine` must be one of '
                             f'{self.REFINE_MODES}, got {refine!r}')
        self.refine = refine
        self.detach_branch = detach_branch
        levels = len(self.pyramid_channels)
        if not 0 <= trace_levels <= levels:
            raise ValueError(
                f'`decode_head.trace_levels` must be in [0, {levels}] (the '
                f'scales the task decoders return), got {trace_levels}')
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
        if trace_levels > 0:
            self.srms = nn.ModuleDict({
                task: SpatialRefinementModule(
                    c, self.pyramid_channels[:trace_levels], c,
                    align_corners=self.align_corners, **common, **srm)
                for task in self.tasks
            })
        else:
            self.srms = None
        self.side_outputs = nn.ModuleDict({
            task: nn.ModuleList([
                self._build_side_output(c, self.out_channels[task])
                for _ in range(max(trace_levels - 1, 0))
            ])
            for task in self.tasks
        })
        if refine == 'gated':
            # One gate per channel of the refinement feature; a zero start
            # makes the initial prediction exactly the decoder's own.
            self.gates = nn.ParameterDict({
                task: nn.Parameter(torch.full((c, ), float(gate_init)))
                for task in self.tasks
            })
        else:
            self.gates = None
        if refine == 'residual':
            self.branch_projs = nn.ModuleDict(
                {task: nn.Conv2d(c, c, 1)
                 for task in self.tasks})
        else:
            self.branch_projs = None

    def init_weights(self) -> None:
        """Initialize, then zero the residual branch projections (the
        prediction starts as the decoder's own)."""
        super().init_weights()
        if self.branch_projs is not None:
            for proj in self.branch_projs.values():
                nn.init.zeros_(proj.weight)
                nn.init.zeros_(proj.bias)

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
        branch_feats = {
            t: f.detach() if self.detach_branch else f
            for t, f in feats.items()
        }
        for task in self.tasks:
            x = branch_feats[task]
            if self.cfms is not None:
                others = [branch_feats[s] for s in self.tasks if s != task]
                x = self.cfms[task](x, others)
            if self.srms is not None:
                pyramid = decoded[task][1][:self.trace_levels]
                if self.detach_branch:
                    pyramid = [p.detach() for p in pyramid]
                refined = self.srms[task](x, pyramid, return_all=with_side)
            else:
                refined = [x]
            final = refined[-1]
            if self.gates is not None:
                gate = self.gates[task].view(1, -1, 1, 1)
                final = feats[task] + gate * final
            elif self.branch_projs is not None:
                final = feats[task] + self.branch_projs[task](final)
            preds[task] = self.outputs[task](final)
            if with_side:
                side_preds[task] = [
                    head(r)
                    for head, r in zip(self.side_outputs[task], refined[:-1])
                ]
        return dict(preds=preds, side_preds=side_preds, feats=feats)
