"""The interface of a kind of dense prediction task.

A *kind* (:data:`mmmtcp.registry.TASK_KINDS`) owns everything that depends
on what a task's map holds, so that the data path, the model, the metric and
the visualizer look behaviour up instead of branching on task names:

========================  ==========================================
data path                 :meth:`read`, :meth:`resize`, :meth:`warp`,
                          :meth:`flip`, :attr:`pad_val`, :meth:`pack`
model                     :meth:`out_channels`, :attr:`default_loss`,
                          :meth:`loss_target`, :meth:`activate`,
                          :meth:`unflip`
evaluation                :meth:`stats`, :meth:`summarize`,
                          :attr:`lower_is_better`, :meth:`write`
visualization             :meth:`render`
========================  ==========================================

A *task* (:class:`mmmtcp.utils.tasks.TaskSpec`) is a named instance of a
kind. Capabilities a kind does not have raise ``NotImplementedError``
naming the kind and the capability.
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor


class BaseTaskKind:
    """Base class of task kinds.

    Args:
        channels (int): Channels of the ground-truth map (1 for scalar
            maps). Defaults to 1.
    """

    #: registered name, set by subclasses
    name: str = 'base'
    #: ground truth holds integer labels with an ignore value
    is_label: bool = False
    #: fill of padded / invalid ground-truth pixels
    pad_val: float = 0.0
    #: values scale with a zoom (depth: ``depth_scale_mode='divide'``)
    scales_with_zoom: bool = False
    #: model loss config used when the head has no ``loss_decode`` entry
    default_loss: Optional[dict] = None
    #: metric names, the primary one first
    metric_names: Tuple[str, ...] = ()
    #: metric names where lower is better (for ``delta_m``)
    lower_is_better: Tuple[str, ...] = ()
    #: how :meth:`stats` scores a non-finite predicted pixel
    nonfinite_rule: str = 'the worst error of the metric'

    def __init__(self, channels: int = 1) -> None:
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f'{type(self).__name__}: `channels` must be a '
                             f'positive int, got {channels!r}')
        self.channels = channels

    def _missing(self, capability: str):
        return NotImplementedError(
            f'task kind {self.name!r} ({type(self).__name__}) has no '
            f'{capability}; implement `{capability}` in a subclass and '
            'register it in mmmtcp.registry.TASK_KINDS')

    # ------------------------------------------------------------ data path
    def read(self, path: str, **kwargs) -> np.ndarray:
        """Read a map of this kind from ``.npy`` (``H x W`` or
        ``H x W x C``) or a PNG; the generic reader of tasks declared in
        configs."""
        from mmmtcp.datasets.formats import load_npy, read_index_png
        if path.endswith('.npy'):
            data = load_npy(path)
        else:
            data = read_index_png(path)
        return self.check_map(np.asarray(data), path)

    def check_map(self, data: np.ndarray, path: str) -> np.ndarray:
        """Check the shape of a read map and give it this kind's dtype."""
        from mmmtcp.datasets.formats import AnnotationReadError
        if self.channels == 1:
            data = np.squeeze(data)
            ok = data.ndim == 2
        else:
            ok = data.ndim == 3 and data.shape[2] == self.channels
        if not ok:
            raise AnnotationReadError(
                f'{path}: a {self.name} map with {self.channels} channel(s) '
                f'must be H x W' + ('' if self.channels == 1 else
                                    f' x {self.channels}') +
                f', got shape {data.shape}')
        return data

    def resize(self, data: np.ndarray, size_hw: Tuple[int, int],
               **ctx) -> np.ndarray:
        """Resize a map to ``size_hw`` (nearest neighbour by default)."""
        h, w = size_hw
        return cv2.resize(data, (w, h), interpolation=cv2.INTER_NEAREST)

    def warp(self, data: np.ndarray, matrix: np.ndarray,
             size_wh: Tuple[int, int], angle: float, **ctx) -> np.ndarray:
        """Apply a 2x3 affine warp (rotation ``angle`` degrees + scale);
        uncovered pixels become :attr:`pad_val`."""
        return cv2.warpAffine(
            data, matrix, size_wh, flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT, borderValue=self.pad_val)

    def flip(self, data: np.ndarray, axes: Sequence[int]) -> np.ndarray:
        """Change the *values* of a map whose pixels were flipped along
        image ``axes`` (0: x, 1: y); most kinds keep them."""
        return data

    def pack(self, data: np.ndarray) -> Tensor:
        """``(C, H, W)`` tensor of a map, as stored in a ``PixelData``."""
        if data.ndim == 2:
            data = data[None]
        else:
            data = data.transpose(2, 0, 1)
        dtype = np.int64 if self.is_label else np.float32
        return torch.from_numpy(np.ascontiguousarray(data, dtype=dtype))

    # ---------------------------------------------------------------- model
    def out_channels(self, num_classes: Optional[int] = None) -> int:
        """Channels the head predicts for a task of this kind."""
        return self.channels

    def loss_target(self, gt: Tensor) -> Tensor:
        """The loss's target from the packed ``(B, C, H, W)`` ground
        truth."""
        return gt

    def activate(self, out: Tensor) -> Tensor:
        """Turn a raw ``(C, H, W)`` output into the prediction."""
        return out

    def unflip(self, out: Tensor, axis: int) -> Tensor:
        """Undo the value change of a test-time flip along image ``axis``
        (0: x, 1: y) on a ``(B, C, H, W)`` output already flipped back."""
        return out

    # ----------------------------------------------------------- evaluation
    def stats(self, pred: np.ndarray, gt: np.ndarray,
              **ctx) -> Dict[str, np.ndarray]:
        """Per-image sufficient statistics (summed over images)."""
        raise self._missing('stats')

    def summarize(self, stats: Dict[str, np.ndarray],
                  **ctx) -> Dict[str, float]:
        """Data-set metrics from the summed statistics."""
        raise self._missing('summarize')

    def reported_names(self, **ctx) -> Tuple[str, ...]:
        """Names of the metrics :meth:`summarize` returns under the metric
        settings ``ctx`` (:attr:`metric_names` unless a setting renames
        them)."""
        return tuple(self.metric_names)

    def unpack(self, data: np.ndarray) -> np.ndarray:
        """``H x W`` (or ``H x W x C``) array of a packed ``(C, H, W)``
        map."""
        if self.channels == 1:
            return data.reshape(data.shape[-2:])
        return data.reshape(self.channels,
                            *data.shape[-2:]).transpose(1, 2, 0)

    def write(self, pred: np.ndarray) -> Tuple[str, Any]:
        """File extension and content of a prediction written by
        ``--out`` (``'.npy'`` arrays by default)."""
        return '.npy', np.asarray(pred, dtype=np.float32)

    # -------------------------------------------------------- visualization
    def render(self, data: np.ndarray, image: np.ndarray,
               **ctx) -> np.ndarray:
        """``H x W x 3`` uint8 RGB picture of a map."""
        raise self._missing('render')

    def __repr__(self) -> str:
        return f'{type(self).__name__}(channels={self.channels})'
