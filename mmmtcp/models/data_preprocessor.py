"""Data preprocessor for multi-task dense prediction (batches every task's
ground truth with its own padding value)."""
from numbers import Number
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

from mmmtcp.tasks import TASKS


@MODELS.register_module()
class MultiTaskDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` that pads every ground-truth field.

    Images are converted / normalized and stacked as in mmseg. In training
    every image is padded at the bottom/right to ``size``, to a multiple of
    ``size_divisor``, or (neither given) to the largest image of the batch,
    and every ground-truth field of :data:`mmmtcp.utils.TASKS` present in a
    sample (``gt_sem_seg``, ``gt_depth_map``, ``gt_normal_map``,
    ``gt_edge_map``, ``gt_human_parts``, ``gt_saliency_map``) is padded the
    same way with its task's ``pad_val`` (labels 255, depth 0, normals 0),
    so padding is never a valid target. Samples get ``pad_shape``,
    ``padding_size`` and ``img_shape`` metainfo as in mmseg. In test mode
    behaviour is mmseg's (optional ``test_cfg`` padding of images only).

    Args:
        mean, std, size, size_divisor, pad_val, bgr_to_rgb, rgb_to_bgr,
        batch_augments, test_cfg: as :class:`SegDataPreProcessor`.
        seg_pad_val (Number): Fill for label fields. Defaults to 255.
    """

    def __init__(self,
                 mean: Sequence[Number] = None,
                 std: Sequence[Number] = None,
                 size: Optional[tuple] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: Number = 0,
                 seg_pad_val: Number = 255,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 batch_augments: Optional[List[dict]] = None,
                 test_cfg: dict = None) -> None:
        super().__init__(
            mean=mean,
            std=std,
            size=size,
            size_divisor=size_divisor,
            pad_val=pad_val,
            seg_pad_val=seg_pad_val,
            bgr_to_rgb=bgr_to_rgb,
            rgb_to_bgr=rgb_to_bgr,
            batch_augments=batch_augments,
            test_cfg=test_cfg)

    @property
    def field_pad_val(self) -> Dict[str, float]:
        """Fill of each ground-truth field: ``seg_pad_val`` for label maps,
        the kind's invalid value otherwise (looked up at use, so tasks
        declared after the model is built are covered)."""
        return {
            spec.gt_field:
            (self.seg_pad_val if spec.is_label else spec.pad_val)
            for spec in TASKS.values()
        }

    def _padded_size(self, inputs: List[torch.Tensor]) -> Tuple[int, int]:
        h = max(int(x.shape[-2]) for x in inputs)
        w = max(int(x.shape[-1]) for x in inputs)
        if self.size is not None:
            h, w = max(h, int(self.size[-2])), max(w, int(self.size[-1]))
        elif self.size_divisor is not None and self.size_divisor > 1:
            d = self.size_divisor
            h, w = (h + d - 1) // d * d, (w + d - 1) // d * d
        return h, w

    def _stack_train(self, inputs: List[torch.Tensor],
                     data_samples: list) -> Tuple[torch.Tensor, list]:
        h, w = self._padded_size(inputs)
        padded = []
        for img, sample in zip(inputs, data_samples):
            padding = (0, w - img.shape[-1], 0, h - img.shape[-2])
            padded.append(F.pad(img, padding, value=self.pad_val))
            for field, fill in self.field_pad_val.items():
                if field not in sample:
                    continue
                pixel_data = getattr(sample, field)
                data = pixel_data.data
                if tuple(data.shape[-2:]) != tuple(img.shape[-2:]):
                    raise ValueError(
                        f'{field} of {sample.metainfo.get("img_path")} has '
                        f'size {tuple(data.shape[-2:])} but its image has '
                        f'{tuple(img.shape[-2:])}')
                del pixel_data.data
                pixel_data.data = F.pad(data, padding, value=fill)
            sample.set_metainfo(
                dict(img_shape=tuple(img.shape[-2:]),
                     pad_shape=(h, w),
                     padding_size=padding))
        return torch.stack(padded, dim=0), data_samples

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalize, pad and stack a batch (see the class docstring)."""
        if not training:
            return super().forward(data, training=False)
        data = self.cast_data(data)  # type: ignore
        inputs = data['inputs']
        data_samples = data.get('data_samples', None)
        if data_samples is None:
            raise ValueError('MultiTaskDataPreProcessor: training needs '
                             '`data_samples`')
        if self.channel_conversion and inputs[0].size(0) == 3:
            inputs = [x[[2, 1, 0], ...] for x in inputs]
        inputs = [x.float() for x in inputs]
        if self._enable_normalize:
            inputs = [(x - self.mean) / self.std for x in inputs]
        inputs, data_samples = self._stack_train(inputs, data_samples)
        if self.batch_augments is not None:
            inputs, data_samples = self.batch_augments(inputs, data_samples)
        return dict(inputs=inputs, data_samples=data_samples)
