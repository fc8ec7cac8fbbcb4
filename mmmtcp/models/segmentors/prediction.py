"""From raw per-task outputs to per-task predictions.

The inference helpers of :class:`MultiTaskSegmentor`: the sliding-window
average of raw outputs (``test_cfg.mode='slide'``) and the post-processing
that undoes the test pipeline's padding, crop and flip, resizes each raw
output to the original image size and turns it into the task's prediction
field (:mod:`mmmtcp.tasks`) with its kind's activation.
"""
from typing import Callable, Dict, List, Sequence

import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList, SampleList
from mmmtcp.tasks import get_task


def slide_inference(encode_decode: Callable[[Tensor, List[dict]],
                                            Dict[str, Tensor]],
                    inputs: Tensor, batch_img_metas: List[dict],
                    crop_size: Sequence[int],
                    stride: Sequence[int]) -> Dict[str, Tensor]:
    """Average the raw outputs of overlapping crops.

    Crops larger than the image are clipped to it.

    Args:
        encode_decode (Callable): Raw per-task outputs of a crop at the
            crop's size, called as ``encode_decode(crop, crop_metas)``.
        inputs (Tensor): ``(B, C, H, W)`` batch.
        batch_img_metas (list[dict]): Metainfo of the images; each crop's
            copy has ``img_shape`` set to the crop's size.
        crop_size (Sequence[int]): ``(h, w)`` of a crop.
        stride (Sequence[int]): ``(h, w)`` step between crops.

    Returns:
        dict[str, Tensor]: Per-task outputs at the size of ``inputs``, each
        pixel the mean over the crops covering it.
    """
    h_stride, w_stride = stride
    h_crop, w_crop = crop_size
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
            outs = encode_decode(crop, crop_metas)
            for task, out in outs.items():
                padded = F.pad(out, (x1, w_img - x2, y1, h_img - y2))
                sums[task] = sums[task] + padded if task in sums \
                    else padded
            count[:, :, y1:y2, x1:x2] += 1
    return {task: s / count for task, s in sums.items()}


def restore_geometry(task: str, out: Tensor, meta: dict,
                     align_corners: bool) -> Tensor:
    """Crop padding and ``img_shape``, undo flips, resize to original.

    Args:
        task (str): The task of ``out``.
        out (Tensor): ``(1, C, H, W)`` raw output at the batch input size.
        meta (dict): The image's metainfo: ``padding_size`` /
            ``img_padding_size`` (left, right, top, bottom), ``img_shape``,
            ``flip``, ``flip_direction`` and ``ori_shape``, all optional.
        align_corners (bool): ``align_corners`` of the bilinear resize.

    Returns:
        Tensor: ``(1, C, h, w)`` raw output at ``ori_shape``; a flipped
        vector map also has the flipped axis' component negated (the
        kind's ``unflip``).
    """
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
            align_corners=align_corners,
            warning=False)
    return out


def activate(task: str, out: Tensor) -> Tensor:
    """Turn a raw output into the task's prediction.

    Args:
        task (str): The task of ``out``.
        out (Tensor): ``(C, H, W)`` raw output.

    Returns:
        Tensor: The output of the kind's activation; pixels with a
        non-finite channel become ``NONFINITE_LABEL`` in label maps and
        NaN in float maps.
    """
    return get_task(task).kind_impl.activate(out)


def postprocess_result(preds: Dict[str, Tensor],
                       data_samples: OptSampleList = None,
                       align_corners: bool = False) -> SampleList:
    """Undo padding, crops and flips, resize and activate every task.

    Args:
        preds (dict[str, Tensor]): Raw outputs at the batch input size.
        data_samples (list[SegDataSample], optional): Samples whose
            metainfo gives ``ori_shape``, ``img_shape``, ``flip``,
            ``flip_direction`` and ``padding_size`` /
            ``img_padding_size``. Without them the outputs are only
            activated.
        align_corners (bool): ``align_corners`` of the resize to the
            original size. Defaults to False.

    Returns:
        list[SegDataSample]: ``data_samples`` (new samples when None) with
        one ``pred_*`` field per task.
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
                out = restore_geometry(task, out, meta, align_corners)
            out = activate(task, out.squeeze(0))
            data_samples[i].set_field(
                PixelData(data=out), get_task(task).pred_field)
    return data_samples
