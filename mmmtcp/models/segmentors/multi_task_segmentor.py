"""Multi-task dense prediction segmentor.

Backbone -> optional neck -> multi-task head (e.g. the MT-CP head of Fontana,
Spratling, Shi, WACV 2025, or the plain multi-task baseline), with one loss
entry per task so that any loss-balancing scheme sees the tasks separately,
and optional training-only regularizers (e.g. the contrastive multi-task
regularization of Yang, Ye, Xu, AAAI 2023) that read the head's per-task
features.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer
from torch import Tensor

from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from mmmtcp.tasks import get_task
from ..utils import init_weights_by_name
from .prediction import postprocess_result, slide_inference
from .segmentor_config import (auxiliary_tasks, check_auxiliary_head,
                               check_head_keys, check_test_cfg,
                               regularizer_cfg, resolve_num_classes,
                               with_pretrained)


@MODELS.register_module()
class MultiTaskSegmentor(BaseSegmentor):
    """Segmentor predicting several dense maps of an image at once.

    ``loss()`` returns ``loss_<task>`` for each task's main output and
    ``loss_<task>_aux<i>`` for its side outputs (already multiplied by the
    head's side weight), plus the losses of the regularizers.

    ``predict()`` fills, for every task of ``decode_head.tasks``, the
    prediction field of :mod:`mmmtcp.tasks` at the original image
    size: ``pred_sem_seg`` / ``pred_human_parts`` (int64 class ids),
    ``pred_depth_map`` (float, clamped at 0), ``pred_normal_map`` (unit
    vectors; a test-time flip is undone by flipping the map *and* negating
    the flipped axis' component) and ``pred_edge_map`` / ``pred_saliency_map``
    (sigmoid probabilities). A pixel whose raw output is non-finite (NaN,
    +inf, -inf) in any channel is marked, so that argmax, sigmoid or
    clamping cannot turn it into an ordinary-looking prediction: label maps
    get ``NONFINITE_LABEL`` (-1, no class) and float maps NaN; the metrics
    score and count such pixels (see :class:`MultiTaskMetric`).

    **Regularizer interface.** ``regularizer`` is a list of module configs
    (or one config) built from the MODELS registry. They are used only by
    ``loss()``; ``predict()`` and ``_forward()`` never call them, so they
    cost nothing at inference. Each module must implement::

        reg.loss(task_feats: Dict[str, Tensor],
                 data_samples: List[SegDataSample]) -> Dict[str, Tensor]

    where ``task_feats[task]`` is that task's decoder feature map ``X_t``
    (``(B, decode_head.channels, H/4, W/4)`` for a 1/4..1/32 pyramid, before
    the CFM) with gradients flowing back into the task decoder and backbone,
    and ``data_samples`` carry every task's ground truth at the padded input
    size (fields listed in :mod:`mmmtcp.tasks`). The returned keys
    must contain ``'loss'`` to be optimized and must not collide with the
    task loss keys (a prefix such as ``loss_contrast_`` is recommended);
    a collision raises an error. A regularizer whose constructor takes
    ``tasks`` / ``in_channels`` gets the head's tasks and
    ``decode_head.channels`` when its config leaves them out. The
    regularizer's parameters (e.g. projectors) belong to the model and are
    trained with it.

    **Inheriting an mmseg model config.** The constructor takes what mmseg's
    ``EncoderDecoder`` takes, so ``_base_ = ['mmseg::_base_/models/...']``
    works with ``type='MultiTaskSegmentor'``:

    - ``pretrained`` has mmseg's meaning: the backbone is initialized from
      that checkpoint (``backbone.init_cfg = dict(type='Pretrained',
      checkpoint=pretrained)``); setting it together with
      ``backbone.pretrained`` or ``backbone.init_cfg`` is an error.
    - ``auxiliary_head`` (one mmseg decode head such as ``FCNHead``, or a
      list) is extra supervision during training, as in mmseg, trained on
      the class labels of one task: ``auxiliary_task``, by default the
      label task declared ``primary`` (``semseg``; see
      :class:`~mmmtcp.tasks.TaskSpec`), or the only label task when there
      is none. The
      task's ground truth is handed to the mmseg head as ``gt_sem_seg``,
      so its ``num_classes`` must equal the decode head's for that task
      (checked). Its loss terms (``loss_ce``, ...) are summed into one
      entry ``loss_<task>_aux``, a *side loss of that task* like the
      decode head's ``loss_<task>_aux<i>``: :class:`TaskBalanceHook`
      groups it with ``<task>`` and by default adds it raw, outside the
      balancer (its weight is the mmseg head's ``loss_weight``, 0.4 in
      mmseg's bases), rather than balancing it as a task of its own. The
      head's other outputs are logged under mmseg's prefix
      (``aux.acc_seg``, ``aux_<i>.acc_seg`` for a list). The auxiliary
      head is never run by ``predict()`` or ``_forward()``.
    - ``decode_head.num_classes`` may be an int (as in every mmseg base),
      meaning the classes of the primary label task (``semseg``), or of
      the only label task when there is none; ``dict(semseg=40,
      human_parts=7)`` names
      them per task. The inherited mmseg head's other keys
      (``dropout_ratio``, ``pool_scales``, ``num_convs``, a single
      ``loss_decode`` dict, ...) are not multi-task head arguments:
      replace the head with ``decode_head=dict(_delete_=True,
      type='MTCPHead', ...)`` (keys the head does not take raise a
      ``ValueError`` that says so). ``configs/mixed/`` has examples.

    Args:
        backbone (dict): Backbone config (any registered backbone, e.g.
            ``mmpretrain.VisionTransformer``, ``ResNetV1c``,
            ``SwinTransformer``, ``MixVisionTransformer``).
        decode_head (dict): Multi-task head config (``MTCPHead`` or
            ``MultiTaskBaselineHead``).
        neck (dict, optional): Neck config, e.g. ``ViTPyramidNeck``.
        regularizer (dict | list[dict], optional): Training-only regularizer
            configs (see above).
        train_cfg (dict, optional): Training config (passed to the
            auxiliary heads' ``loss``, as mmseg does).
        test_cfg (dict, optional): ``dict(mode='whole')`` or
            ``dict(mode='slide', crop_size=(h, w), stride=(h, w))``.
        data_preprocessor (dict, optional): Data preprocessor config, e.g.
            ``MultiTaskDataPreProcessor``.
        init_cfg (dict | list[dict], optional): Initialization config.
        auxiliary_head (dict | list[dict], optional): mmseg decode head(s)
            trained as extra supervision on ``auxiliary_task`` (see above).
        auxiliary_task (str | list[str], optional): Task whose labels train
            the auxiliary head(s): one name for all heads or one per head.
            Defaults to the primary label task (``semseg``), or the only
            label task.
        pretrained (str, optional): Checkpoint of the backbone, as in
            mmseg's ``EncoderDecoder``.
        init_by_name (bool): Initialize every submodule from a seed derived
            from the run's seed and the submodule's name
            (:func:`mmmtcp.models.utils.init_weights_by_name`), so that two
            models sharing parts (the baseline and MT-CP share backbone,
            neck, task decoders and output layers) start from identical
            shared weights for the same seed, whatever else they contain.
            ``False`` keeps mmengine's single random stream. Defaults to
            True.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 regularizer: Optional[Union[ConfigType,
                                             List[ConfigType]]] = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 auxiliary_head: Optional[Union[ConfigType,
                                                List[ConfigType]]] = None,
                 auxiliary_task: Optional[Union[str, Sequence[str]]] = None,
                 pretrained: Optional[str] = None,
                 init_by_name: bool = True) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.init_by_name = init_by_name
        if pretrained is not None:
            backbone = with_pretrained(backbone, pretrained)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        decode_head = resolve_num_classes(decode_head)
        check_head_keys(decode_head)
        self.decode_head = MODELS.build(decode_head)
        for attr in ('tasks', 'loss_by_feat', 'predict', 'align_corners'):
            if not hasattr(self.decode_head, attr):
                raise TypeError(
                    f'`model.decode_head` ({type(self.decode_head).__name__})'
                    f' is not a multi-task head: it has no `{attr}`')
        self.tasks = list(self.decode_head.tasks)
        self.align_corners = self.decode_head.align_corners
        self.auxiliary_head: Optional[nn.Module] = None
        self.auxiliary_tasks: List[str] = []
        if auxiliary_head is not None:
            self._init_auxiliary_head(auxiliary_head, auxiliary_task)
        self._visualizer_checked = False
        if regularizer is None:
            regularizer = []
        elif isinstance(regularizer, dict):
            regularizer = [regularizer]
        self.regularizers = nn.ModuleList()
        for cfg in regularizer:
            # Regularizers that take the tasks and the feature width get
            # them from the head unless the config sets them.
            cfg = regularizer_cfg(cfg, self.tasks, self.decode_head.channels)
            reg = MODELS.build(cfg)
            if not callable(getattr(reg, 'loss', None)):
                raise TypeError(f'`model.regularizer` entry {cfg} builds '
                                f'{type(reg).__name__}, which has no '
                                '`loss(task_feats, data_samples)` method')
            self.regularizers.append(reg)
        self.train_cfg = train_cfg
        self.test_cfg = check_test_cfg(test_cfg)

    def init_weights(self) -> None:
        """Initialize the weights (per-module seeds when
        ``init_by_name``)."""
        if self.init_by_name:
            init_weights_by_name(self, super().init_weights)
        else:
            super().init_weights()

    @property
    def with_regularizer(self) -> bool:
        """bool: whether training-only regularizers are configured."""
        return len(self.regularizers) > 0

    # ------------------------------------------------------------------
    # mmseg compatibility (see :mod:`.segmentor_config`)
    def _init_auxiliary_head(
            self, auxiliary_head: Union[ConfigType, List[ConfigType]],
            auxiliary_task: Optional[Union[str, Sequence[str]]]) -> None:
        """Build the mmseg auxiliary head(s) and pick their tasks."""
        is_list = isinstance(auxiliary_head, (list, tuple))
        cfgs = list(auxiliary_head) if is_list else [auxiliary_head]
        tasks = auxiliary_tasks(auxiliary_task, len(cfgs), self.tasks)
        heads = []
        for i, (cfg, task) in enumerate(zip(cfgs, tasks)):
            where = f'model.auxiliary_head[{i}]' if is_list else \
                'model.auxiliary_head'
            check_auxiliary_head(cfg, task, where, self.tasks,
                                 self.decode_head.num_classes)
            heads.append(MODELS.build(cfg))
        self.auxiliary_head = nn.ModuleList(heads) if is_list else heads[0]
        self.auxiliary_tasks = tasks

    @staticmethod
    def _auxiliary_samples(task: str,
                           data_samples: SampleList) -> SampleList:
        """Samples whose ``gt_sem_seg`` holds ``task``'s labels."""
        spec = get_task(task)
        if spec.gt_field == 'gt_sem_seg':
            return data_samples
        samples = []
        for i, sample in enumerate(data_samples):
            if spec.gt_field not in sample:
                raise KeyError(
                    f'Data sample {i} ({sample.metainfo.get("img_path")}) '
                    f'has no `{spec.gt_field}`, the labels of task {task!r} '
                    'that train `model.auxiliary_head`')
            aux_sample = SegDataSample(metainfo=sample.metainfo)
            aux_sample.gt_sem_seg = PixelData(
                data=getattr(sample, spec.gt_field).data.long())
            samples.append(aux_sample)
        return samples

    def _auxiliary_head_loss(self, x: Tuple[Tensor, ...],
                             data_samples: SampleList) -> Dict[str, Tensor]:
        """``loss_<task>_aux`` (the summed loss terms of the auxiliary heads
        of ``task``) and the heads' other outputs under ``aux[_<i>].``."""
        if isinstance(self.auxiliary_head, nn.ModuleList):
            heads = list(self.auxiliary_head)
            prefixes = [f'aux_{i}' for i in range(len(heads))]
        else:
            heads, prefixes = [self.auxiliary_head], ['aux']
        losses: Dict[str, Tensor] = {}
        for head, prefix, task in zip(heads, prefixes, self.auxiliary_tasks):
            head_losses = head.loss(
                list(x), self._auxiliary_samples(task, data_samples),
                self.train_cfg)
            for name, value in head_losses.items():
                if 'loss' not in name:
                    losses[f'{prefix}.{name}'] = value
                    continue
                if isinstance(value, (list, tuple)):
                    value = sum(value)
                key = f'loss_{task}_aux'
                losses[key] = losses[key] + value if key in losses else value
        return losses

    def _check_visualizer(self) -> None:
        """Warn once when mmseg's single-task visualizer would draw the
        multi-task predictions."""
        if self._visualizer_checked:
            return
        self._visualizer_checked = True
        from mmseg.visualization import SegLocalVisualizer
        try:
            visualizer = Visualizer.get_current_instance()
        except RuntimeError:
            return
        if isinstance(visualizer, SegLocalVisualizer):
            print_log(
                'MultiTaskSegmentor: the visualizer is mmseg\'s '
                'SegLocalVisualizer, which draws only the semseg and depth '
                'maps of a multi-task prediction, and mmseg\'s '
                'SegVisualizationHook draws only every `interval`-th batch '
                '(default 50), so `tools/test.py --show-dir` may write no '
                'picture at all. For one picture of every task per image '
                "set `default_hooks.visualization=dict(type="
                "'MultiTaskVisualizationHook')` and `visualizer=dict("
                "type='MultiTaskLocalVisualizer', vis_backends=["
                "dict(type='LocalVisBackend')], name='visualizer')` (as "
                'configs/mixed/ do).',
                logger='current',
                level=logging.WARNING)

    def val_step(self, data: Union[tuple, dict, list]) -> SampleList:
        """Predictions of a batch (see ``BaseModel.val_step``)."""
        self._check_visualizer()
        return super().val_step(data)

    def test_step(self, data: Union[tuple, dict, list]) -> SampleList:
        """Predictions of a batch (see ``BaseModel.test_step``)."""
        self._check_visualizer()
        return super().test_step(data)

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Backbone (and neck) features, fine to coarse."""
        x = self.backbone(inputs)
        if self.neck is not None:
            x = self.neck(x)
        return tuple(x)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Raw per-task outputs at the size of ``inputs``."""
        x = self.extract_feat(inputs)
        return self.decode_head.predict(x, inputs.shape[2:])

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Per-task (and side, and regularizer) losses of a batch."""
        x = self.extract_feat(inputs)
        outputs = self.decode_head.forward(x, with_side=True)
        losses = self.decode_head.loss_by_feat(outputs, data_samples)
        if self.auxiliary_head is not None:
            aux_losses = self._auxiliary_head_loss(x, data_samples)
            clash = set(aux_losses) & set(losses)
            if clash:
                raise KeyError(f'model.auxiliary_head loss keys '
                               f'{sorted(clash)} are already used')
            losses.update(aux_losses)
        for reg in self.regularizers:
            reg_losses = reg.loss(outputs['feats'], data_samples)
            clash = set(reg_losses) & set(losses)
            if clash:
                raise KeyError(f'{type(reg).__name__} returned loss keys '
                               f'{sorted(clash)} that are already used')
            losses.update(reg_losses)
        return losses

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Dict[str, Tensor]:
        """Raw per-task outputs of the head (no side outputs, no resize)."""
        x = self.extract_feat(inputs)
        return self.decode_head.forward(x, with_side=False)['preds']

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict every task and post-process to the original size."""
        if data_samples is not None:
            batch_img_metas = [s.metainfo for s in data_samples]
        else:
            shape = tuple(inputs.shape[2:])
            batch_img_metas = [
                dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                     padding_size=[0, 0, 0, 0])
            ] * inputs.shape[0]
        preds = self.inference(inputs, batch_img_metas)
        return self.postprocess_result(preds, data_samples)

    def inference(self, inputs: Tensor,
                  batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Whole-image or sliding-window raw outputs at the input size."""
        ori_shape = batch_img_metas[0].get('ori_shape')
        if not all(m.get('ori_shape') == ori_shape for m in batch_img_metas):
            print_log('Image shapes are different in the batch.',
                      logger='current', level=logging.WARN)
        if self.test_cfg.get('mode', 'whole') == 'slide':
            return self.slide_inference(inputs, batch_img_metas)
        return self.encode_decode(inputs, batch_img_metas)

    def slide_inference(self, inputs: Tensor,
                        batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Average the raw outputs of overlapping crops.

        ``test_cfg.crop_size`` and ``test_cfg.stride`` are ``(h, w)``; crops
        larger than the image are clipped to it (see
        :func:`.prediction.slide_inference`).
        """
        return slide_inference(self.encode_decode, inputs, batch_img_metas,
                               stride=self.test_cfg['stride'],
                               crop_size=self.test_cfg['crop_size'])

    def postprocess_result(self,
                           preds: Dict[str, Tensor],
                           data_samples: OptSampleList = None
                           ) -> SampleList:
        """:func:`~mmmtcp.models.segmentors.prediction.postprocess_result`
        with this segmentor's ``align_corners``: undo padding, crops and
        flips, resize to the original size and activate every task."""
        return postprocess_result(preds, data_samples, self.align_corners)
