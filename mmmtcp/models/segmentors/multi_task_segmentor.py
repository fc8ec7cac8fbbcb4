"""Multi-task dense prediction segmentor.

Backbone -> optional neck -> multi-task head (e.g. the MT-CP head of Fontana,
Spratling, Shi, WACV 2025, or the plain multi-task baseline), with one loss
entry per task so that any loss-balancing scheme sees the tasks separately,
and optional training-only regularizers (e.g. the contrastive multi-task
regularization of Yang, Ye, Xu, AAAI 2023) that read the head's per-task
features.
"""
import inspect
import logging
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import PixelData
from torch import Tensor

from mmseg.models.segmentors import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from mmmtcp.utils import get_task


@MODELS.register_module()
class MultiTaskSegmentor(BaseSegmentor):
    """Segmentor predicting several dense maps of an image at once.

    ``loss()`` returns ``loss_<task>`` for each task's main output and
    ``loss_<task>_aux<i>`` for its side outputs (already multiplied by the
    head's side weight), plus the losses of the regularizers.

    ``predict()`` fills, for every task of ``decode_head.tasks``, the
    prediction field of :mod:`mmmtcp.utils.tasks` at the original image
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
    size (fields listed in :mod:`mmmtcp.utils.tasks`). The returned keys
    must contain ``'loss'`` to be optimized and must not collide with the
    task loss keys (a prefix such as ``loss_contrast_`` is recommended);
    a collision raises an error. A regularizer whose constructor takes
    ``tasks`` / ``in_channels`` gets the head's tasks and
    ``decode_head.channels`` when its config leaves them out. The
    regularizer's parameters (e.g. projectors) belong to the model and are
    trained with it.

    Args:
        backbone (dict): Backbone config (any registered backbone, e.g.
            ``mmpretrain.VisionTransformer``, ``ResNetV1c``,
            ``SwinTransformer``, ``MixVisionTransformer``).
        decode_head (dict): Multi-task head config (``MTCPHead`` or
            ``MultiTaskBaselineHead``).
        neck (dict, optional): Neck config, e.g. ``ViTPyramidNeck``.
        regularizer (dict | list[dict], optional): Training-only regularizer
            configs (see above).
        train_cfg (dict, optional): Training config (unused, kept for mmseg
            compatibility).
        test_cfg (dict, optional): ``dict(mode='whole')`` or
            ``dict(mode='slide', crop_size=(h, w), stride=(h, w))``.
        data_preprocessor (dict, optional): Data preprocessor config, e.g.
            ``MultiTaskDataPreProcessor``.
        init_cfg (dict | list[dict], optional): Initialization config.
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
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.decode_head = MODELS.build(decode_head)
        for attr in ('tasks', 'loss_by_feat', 'predict', 'align_corners'):
            if not hasattr(self.decode_head, attr):
                raise TypeError(
                    f'`model.decode_head` ({type(self.decode_head).__name__})'
                    f' is not a multi-task head: it has no `{attr}`')
        self.tasks = list(self.decode_head.tasks)
        self.align_corners = self.decode_head.align_corners
        if regularizer is None:
            regularizer = []
        elif isinstance(regularizer, dict):
            regularizer = [regularizer]
        self.regularizers = nn.ModuleList()
        for cfg in regularizer:
            # Regularizers that take the tasks and the feature width get
            # them from the head unless the config sets them.
            cfg = dict(cfg)
            reg_cls = MODELS.get(cfg['type']) if isinstance(
                cfg.get('type'), str) else cfg.get('type')
            params = inspect.signature(reg_cls).parameters if inspect.isclass(
                reg_cls) else {}
            defaults = dict(
                tasks=self.tasks, in_channels=self.decode_head.channels)
            for key, value in defaults.items():
                if key in params and cfg.get(key) is None:
                    cfg[key] = value
            reg = MODELS.build(cfg)
            if not callable(getattr(reg, 'loss', None)):
                raise TypeError(f'`model.regularizer` entry {cfg} builds '
                                f'{type(reg).__name__}, which has no '
                                '`loss(task_feats, data_samples)` method')
            self.regularizers.append(reg)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg if test_cfg is not None else dict(
            mode='whole')
        mode = self.test_cfg.get('mode', 'whole')
        if mode not in ('whole', 'slide'):
            raise ValueError(f"`model.test_cfg.mode` must be 'whole' or "
                             f"'slide', got {mode!r}")
        if mode == 'slide':
            for key in ('crop_size', 'stride'):
                if key not in self.test_cfg:
                    raise ValueError(f"`model.test_cfg.{key}` is required "
                                     "with mode='slide'")

    @property
    def with_regularizer(self) -> bool:
        """bool: whether training-only regularizers are configured."""
        return len(self.regularizers) > 0

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
        larger than the image are clipped to it.
        """
        h_stride, w_stride = self.test_cfg['stride']
        h_crop, w_crop = self.test_cfg['crop_size']
        _, _, h_img, w_img = inputs.shape
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        sums: Dict[str, Tensor] = {}
        count = inputs.new_zeros((1, 1, h_img, w_img))
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crop = inputs[:, :, y1:y2, x1:x2]
                crop_metas = [
                    dict(m, img_shape=crop.shape[2:]) for m in batch_img_metas
                ]
                outs = self.encode_decode(crop, crop_metas)
                for task, out in outs.items():
                    padded = F.pad(out, (x1, w_img - x2, y1, h_img - y2))
                    sums[task] = sums[task] + padded if task in sums \
                        else padded
                count[:, :, y1:y2, x1:x2] += 1
        return {task: s / count for task, s in sums.items()}

    def postprocess_result(self,
                           preds: Dict[str, Tensor],
                           data_samples: OptSampleList = None
                           ) -> SampleList:
        """Undo padding, crops and flips, resize and activate every task.

        Args:
            preds (dict[str, Tensor]): Raw outputs at the batch input size.
            data_samples (list[SegDataSample], optional): Samples whose
                metainfo gives ``ori_shape``, ``img_shape``, ``flip``,
                ``flip_direction`` and ``padding_size`` /
                ``img_padding_size``. Without them the outputs are only
                activated.

        Returns:
            list[SegDataSample]: Samples with one ``pred_*`` field per task.
        """
        batch_size = next(iter(preds.values())).shape[0]
        only_prediction = data_samples is None
        if only_prediction:
            data_samples = [SegDataSample() for _ in range(batch_size)]
        for i in range(batch_size):
            meta = data_samples[i].metainfo
            for task, pred in preds.items():
                out = pred[i:i + 1]
                if not only_prediction:
                    out = self._restore_geometry(task, out, meta)
                out = self._activate(task, out.squeeze(0))
                data_samples[i].set_field(
                    PixelData(data=out), get_task(task).pred_field)
        return data_samples

    def _restore_geometry(self, task: str, out: Tensor, meta: dict) -> Tensor:
        """Crop padding and ``img_shape``, undo flips, resize to original."""
        _, _, h, w = out.shape
        padding = meta.get('img_padding_size',
                           meta.get('padding_size', [0, 0, 0, 0]))
        left, right, top, bottom = (int(p) for p in padding)
        out = out[:, :, top:h - bottom, left:w - right]
        img_shape = meta.get('img_shape')
        if img_shape is not None:
            out = out[:, :, :int(img_shape[0]), :int(img_shape[1])]
        if meta.get('flip', False):
            direction = meta.get('flip_direction', 'horizontal')
            if direction not in ('horizontal', 'vertical'):
                raise ValueError(f'Cannot undo flip_direction={direction!r}'
                                 ' (supported: horizontal, vertical)')
            axis = 0 if direction == 'horizontal' else 1
            out = out.flip(dims=(3 if axis == 0 else 2, ))
            out = get_task(task).kind_impl.unflip(out, axis)
        ori_shape = meta.get('ori_shape')
        if ori_shape is not None and tuple(out.shape[2:]) != tuple(
                ori_shape[:2]):
            out = resize(
                out,
                size=tuple(ori_shape[:2]),
                mode='bilinear',
                align_corners=self.align_corners,
                warning=False)
        return out

    @staticmethod
    def _activate(task: str, out: Tensor) -> Tensor:
        """Turn a raw ``(C, H, W)`` output into the task's prediction with
        its kind's activation (pixels with a non-finite channel become
        ``NONFINITE_LABEL`` in label maps, NaN in float maps)."""
        return get_task(task).kind_impl.activate(out)

