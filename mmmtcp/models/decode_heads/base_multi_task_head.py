"""Common machinery of the multi-task dense prediction heads.

A multi-task head owns one :class:`TaskDecoder` per task, an output layer
per task and the per-task losses. Subclasses decide what happens between the
decoders and the outputs (nothing for the plain baseline; CFM and SRM for
MT-CP, Fontana et al., WACV 2025).

Every head's ``forward`` returns a dict:

- ``'preds'``: ``{task: Tensor}`` raw outputs (logits for label and binary
  tasks, depth, unnormalized normals) at the head's finest scale;
- ``'side_preds'``: ``{task: [Tensor, ...]}`` deep-supervision outputs
  (only computed when ``with_side`` is true; training by default);
- ``'feats'``: ``{task: Tensor}`` each task's decoder features ``X_t`` at the
  finest scale (1/4 of the input for the usual pyramids), the interface of
  training-only regularizers.
"""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig, SampleList
from mmmtcp.tasks import IGNORE_INDEX, check_tasks, get_task
from ..layers import TaskDecoder

HeadOutputs = Dict[str, Dict[str, Union[Tensor, List[Tensor]]]]

class BaseMultiTaskHead(BaseModule, metaclass=ABCMeta):
    """Base class of multi-task heads.

    Args:
        tasks (Sequence[str | dict]): Task names, or declarations of new
            tasks such as ``dict(name='albedo', kind='regression',
            channels=3)`` (see :mod:`mmmtcp.tasks`).
        in_channels (Sequence[int]): Channels of the used input levels, fine
            to coarse.
        channels (int): Width of the task decoders. Defaults to 256.
        num_classes (dict, optional): ``{task: classes}`` for the tasks of
            kind ``'label'`` (``semseg``, ``human_parts``); required for
            those.
        in_index (Sequence[int], optional): Input levels to use. Defaults to
            all, in order.
        decoder (dict): The task decoders: extra arguments of
            :class:`TaskDecoder` (e.g. ``num_convs``), or a whole decoder
            config with a ``type`` (e.g. ``dict(type='SwinTaskDecoder',
            ...)``, the released code's decoders), which gets
            ``in_channels``, ``channels``, ``norm_cfg``, ``act_cfg`` and
            ``align_corners`` unless it sets them. Defaults to ``dict()``.
        loss_decode (dict, optional): ``{task: loss config or list}``;
            missing tasks use their kind's ``default_loss`` (e.g.
            cross-entropy for labels, L1 for depth).
        side_loss_decode (dict, optional): ``{task: loss config or list}``
            of the side (deep-supervision) outputs; missing tasks use their
            main losses. The released code, e.g., supervises its normals'
            side outputs with an L1 over every pixel while the main output
            has a masked MSE.
        side_loss_weight (float): Weight of every side (deep-supervision)
            loss. Defaults to 0.5.
        side_head (str): Form of the side output layers: ``'conv'`` (a 1x1
            ConvModule and a 1x1 classifier, like the main outputs) or
            ``'reference'`` (the released code's ``SemSegPred`` /
            ``DepthPred`` / ``NormalPred``: 1x1 conv, 1x1 conv, norm,
            activation, 1x1 classifier). Defaults to ``'conv'``.
        norm_cfg (dict): Normalization layers. Defaults to BN.
        act_cfg (dict): Activation layers. Defaults to ReLU.
        align_corners (bool): ``align_corners`` of every resize.
        init_cfg (dict | list[dict], optional): Initialization config.
    """

    SIDE_HEADS = ('conv', 'reference')

    def __init__(self,
                 tasks: Sequence[str],
                 in_channels: Sequence[int],
                 channels: int = 256,
                 num_classes: Optional[Dict[str, int]] = None,
                 in_index: Optional[Sequence[int]] = None,
                 decoder: ConfigType = dict(),
                 loss_decode: Optional[Dict[str, ConfigType]] = None,
                 side_loss_decode: Optional[Dict[str, ConfigType]] = None,
                 side_loss_weight: float = 0.5,
                 side_head: str = 'conv',
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tasks = check_tasks(tasks, 'decode_head.tasks')
        in_channels = list(in_channels)
        if in_index is None:
            in_index = list(range(len(in_channels)))
        in_index = list(in_index)
        if len(in_index) != len(in_channels):
            raise ValueError(
                '`decode_head.in_index` and `decode_head.in_channels` need '
                f'the same length, got {in_index} and {in_channels}')
        self.in_channels = in_channels
        self.in_index = in_index
        self.channels = channels
        self.align_corners = align_corners
        self.side_loss_weight = side_loss_weight
        if side_head not in self.SIDE_HEADS:
            raise ValueError(f'`decode_head.side_head` must be one of '
                             f'{self.SIDE_HEADS}, got {side_head!r}')
        self.side_head = side_head
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg

        num_classes = dict(num_classes or {})
        unknown = set(num_classes) - set(self.tasks)
        if unknown:
            raise ValueError(f'`decode_head.num_classes` names tasks '
                             f'{sorted(unknown)} that are not in `tasks` '
                             f'{self.tasks}')
        self.out_channels: Dict[str, int] = {}
        for task in self.tasks:
            kind = get_task(task).kind_impl
            try:
                self.out_channels[task] = kind.out_channels(
                    num_classes.get(task))
            except ValueError as e:
                raise ValueError(f'`decode_head.num_classes` needs an entry '
                                 f'for task {task!r}: {e}') from None
        self.num_classes = num_classes

        self.decoders = nn.ModuleDict({
            task: self._build_decoder(decoder)
            for task in self.tasks
        })
        first = self.decoders[self.tasks[0]]
        #: channels of the per-scale features the decoders return, fine to
        #: coarse (what a trace-back walks over)
        self.pyramid_channels: List[int] = list(
            getattr(first, 'pyramid_channels', [channels] * len(in_channels)))
        self.outputs = nn.ModuleDict({
            task: self._build_output(channels, self.out_channels[task])
            for task in self.tasks
        })

        loss_decode = dict(loss_decode or {})
        side_loss_decode = dict(side_loss_decode or {})
        for key, cfgs in (('loss_decode', loss_decode),
                          ('side_loss_decode', side_loss_decode)):
            unknown = set(cfgs) - set(self.tasks)
            if unknown:
                raise ValueError(f'`decode_head.{key}` names tasks '
                                 f'{sorted(unknown)} that are not in `tasks` '
                                 f'{self.tasks}')
        self.losses = nn.ModuleDict()
        for task in self.tasks:
            cfg = loss_decode.get(task, get_task(task).kind_impl.default_loss)
            if cfg is None:
                raise ValueError(
                    f'task {task!r}: its kind {get_task(task).kind!r} has no '
                    'default loss; set `decode_head.loss_decode.'
                    f'{task}`')
            self.losses[task] = self._build_losses(cfg)
        self.side_losses = nn.ModuleDict({
            task: self._build_losses(cfg)
            for task, cfg in side_loss_decode.items()
        })

    @staticmethod
    def _build_losses(cfg: Union[ConfigType, Sequence[ConfigType]]
                      ) -> nn.ModuleList:
        cfgs = cfg if isinstance(cfg, (list, tuple)) else [cfg]
        return nn.ModuleList([MODELS.build(c) for c in cfgs])

    def _build_decoder(self, decoder: ConfigType) -> nn.Module:
        """One task decoder from ``decode_head.decoder``."""
        common = dict(
            in_channels=self.in_channels,
            channels=self.channels,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
            align_corners=self.align_corners)
        decoder = dict(decoder)
        if 'type' not in decoder:
            return TaskDecoder(**{**common, **decoder})
        for key, value in common.items():
            decoder.setdefault(key, value)
        return MODELS.build(decoder)

    def _build_side_output(self, in_channels: int,
                           out_channels: int) -> nn.Module:
        """A side (deep-supervision) output layer (see ``side_head``)."""
        if self.side_head == 'conv':
            return self._build_output(in_channels, out_channels)
        return nn.Sequential(
            ConvModule(in_channels, in_channels, 1, bias=False,
                       norm_cfg=None, act_cfg=None),
            ConvModule(in_channels, in_channels, 1, bias=False,
                       norm_cfg=self.norm_cfg, act_cfg=self.act_cfg),
            nn.Conv2d(in_channels, out_channels, 1))

    def _build_output(self, in_channels: int, out_channels: int) -> nn.Module:
        """1x1 ConvModule followed by a 1x1 classifier convolution."""
        return nn.Sequential(
            ConvModule(in_channels, in_channels, 1, norm_cfg=self.norm_cfg,
                       act_cfg=self.act_cfg),
            nn.Conv2d(in_channels, out_channels, 1))

    def _transform_inputs(self, inputs: Sequence[Tensor]) -> List[Tensor]:
        if max(self.in_index) >= len(inputs):
            raise ValueError(f'`decode_head.in_index` {self.in_index} does '
                             f'not fit the {len(inputs)} input feature maps')
        # NCHW-contiguous maps: a channels-last view (mmpretrain's ViT
        # returns one) would carry its layout through every convolution,
        # whose backward pass is several times slower in that layout on
        # the CPU
        return [inputs[i].contiguous() for i in self.in_index]

    def decode(self, inputs: Sequence[Tensor]) -> Dict[str, tuple]:
        """Run every task decoder: ``{task: (x_t, per-scale feats)}``."""
        inputs = self._transform_inputs(inputs)
        return {task: self.decoders[task](inputs) for task in self.tasks}

    @abstractmethod
    def forward(self,
                inputs: Sequence[Tensor],
                with_side: Optional[bool] = None) -> HeadOutputs:
        """Return ``dict(preds=..., side_preds=..., feats=...)``."""

    def predict(self, inputs: Sequence[Tensor],
                size: Sequence[int]) -> Dict[str, Tensor]:
        """Raw per-task outputs resized to ``size`` (no side outputs)."""
        preds = self.forward(inputs, with_side=False)['preds']
        return {
            task: resize(pred, size=tuple(size), mode='bilinear',
                         align_corners=self.align_corners)
            for task, pred in preds.items()
        }

    def _stack_gt(self, task: str, data_samples: SampleList) -> Tensor:
        spec = get_task(task)
        gts = []
        for i, sample in enumerate(data_samples):
            if spec.gt_field not in sample:
                raise KeyError(
                    f'Data sample {i} ({sample.metainfo.get("img_path")}) has '
                    f'no `{spec.gt_field}` for task {task!r}: the dataset and '
                    'pipeline must load and pack every task of '
                    '`decode_head.tasks`')
            gts.append(getattr(sample, spec.gt_field).data)
        return torch.stack(gts, dim=0)

    def _task_loss(self, task: str, pred: Tensor, gt: Tensor,
                   side: bool = False) -> Tensor:
        kind = get_task(task).kind_impl
        pred = resize(pred, size=gt.shape[2:], mode='bilinear',
                      align_corners=self.align_corners)
        target = kind.loss_target(gt)
        losses = self.losses[task]
        if side and task in self.side_losses:
            losses = self.side_losses[task]
        if kind.is_label and target.dim() == 3:
            return sum(
                loss(pred, target, ignore_index=IGNORE_INDEX)
                for loss in losses)
        return sum(loss(pred, target) for loss in losses)

    def loss_by_feat(self, outputs: HeadOutputs,
                     data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses: ``loss_<task>`` and weighted ``loss_<task>_aux<i>``.

        Args:
            outputs (dict): Output of :meth:`forward`.
            data_samples (list[SegDataSample]): Samples with the ground truth
                of every task.

        Returns:
            dict[str, Tensor]: One main loss per task and one per side output
            (``aux0`` the coarsest), the latter multiplied by
            ``side_loss_weight``.
        """
        losses = {}
        side_preds = outputs.get('side_preds') or {}
        for task in self.tasks:
            gt = self._stack_gt(task, data_samples)
            losses[f'loss_{task}'] = self._task_loss(
                task, outputs['preds'][task], gt)
            for i, side in enumerate(side_preds.get(task, [])):
                losses[f'loss_{task}_aux{i}'] = (
                    self.side_loss_weight *
                    self._task_loss(task, side, gt, side=True))
        return losses

    def loss(self, inputs: Sequence[Tensor],
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Forward (with side outputs) and compute the losses."""
        return self.loss_by_feat(
            self.forward(inputs, with_side=True), data_samples)
