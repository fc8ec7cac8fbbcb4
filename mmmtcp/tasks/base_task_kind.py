"""The interface of a kind of dense prediction task.

A *kind* (:data:`mmmtcp.registry.TASK_KINDS`) owns everything that depends
on what a task's map holds, so that the data path, the model, the metric and
the visualizer look behaviour up instead of branching on task names:

========================  ==========================================
data path                 :meth:`read`, :meth:`resize`, :meth:`warp`,
                          :meth:`flip`, :attr:`pad_val`, :meth:`pack`
model                     :meth:`out_channels`, :attr:`needs_classes`,
                          :attr:`default_loss`, :meth:`loss_target`,
                          :meth:`activate`, :meth:`unflip`
contrastive regularizer   :meth:`contrast_targets`,
                          :meth:`contrast_positives`
evaluation                :meth:`stats`, :meth:`summarize`,
                          :attr:`lower_is_better`, :meth:`write`,
                          :attr:`coherence_role`
visualization             :meth:`render`, :attr:`colour_bar_unit`,
                          :meth:`value_range`
========================  ==========================================

A *task* (:class:`mmmtcp.tasks.TaskSpec`) is a named instance of a kind;
what differs between tasks of one kind (field names, class names, whether
the task is ``primary``) is declared on the task. Capabilities a kind does
not have raise ``NotImplementedError`` naming the kind and the capability
(:meth:`BaseTaskKind.supports` tells them apart beforehand).
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmmtcp.functional.formats import (AnnotationReadError, load_npy,
                                       read_index_png)

#: What a kind's maps can stand for in the cross-task coherence measures of
#: :class:`~mmmtcp.evaluation.MultiTaskMetric` (:attr:`BaseTaskKind.
#: coherence_role`): metric depth from which normals can be derived, unit
#: surface normals, boundary probabilities, label maps whose region borders
#: are boundaries.
COHERENCE_ROLES = ('metric_depth', 'unit_normals', 'boundaries', 'regions')


#: capabilities :class:`BaseTaskKind` declares but does not implement
_LEFT_TO_SUBCLASSES = ('stats', 'summarize', 'render', 'contrast_targets')


def resize_nearest(gt: Tensor, size: Tuple[int, int]) -> Tensor:
    """A packed ``(C, H, W)`` map resized to ``size`` with nearest
    neighbour, as float.

    Args:
        gt (Tensor): The map.
        size (tuple[int, int]): ``(h, w)``.

    Returns:
        Tensor: The ``(C, h, w)`` float map.
    """
    return F.interpolate(gt[None].float(), size=size, mode='nearest')[0]


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
    #: the head predicts one logit per class and needs the task's number of
    #: classes (``decode_head.num_classes``)
    needs_classes: bool = False
    #: model loss config used when the head has no ``loss_decode`` entry
    default_loss: Optional[dict] = None
    #: metric names, the primary one first
    metric_names: Tuple[str, ...] = ()
    #: metric names where lower is better (for ``delta_m``)
    lower_is_better: Tuple[str, ...] = ()
    #: how :meth:`stats` scores a non-finite predicted pixel
    nonfinite_rule: str = 'the worst error of the metric'
    #: what the maps stand for in the coherence measures, one of
    #: :data:`COHERENCE_ROLES`; ``None`` takes part in none
    coherence_role: Optional[str] = None
    #: unit printed on a colour bar under the task's panels in the
    #: pictures; ``None`` draws no bar
    colour_bar_unit: Optional[str] = None

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

    def supports(self, capability: str) -> bool:
        """Whether the kind implements a capability that the base class
        leaves to subclasses (:meth:`stats`, :meth:`summarize`,
        :meth:`render`, :meth:`contrast_targets`).

        Args:
            capability (str): Name of the method.

        Returns:
            bool: False if the kind has no such method or calling it raises
            ``NotImplementedError``.
        """
        own = getattr(type(self), capability, None)
        if own is None:
            return False
        if capability not in _LEFT_TO_SUBCLASSES:
            return True
        return own is not getattr(BaseTaskKind, capability)

    # ------------------------------------------------------------ data path
    def read(self, path: str, **kwargs) -> np.ndarray:
        """Read a map of this kind from ``.npy`` (``H x W`` or
        ``H x W x C``) or a PNG; the generic reader of tasks declared in
        configs."""
        if path.endswith('.npy'):
            data = load_npy(path)
        else:
            data = read_index_png(path)
        return self.check_map(np.asarray(data), path)

    def check_map(self, data: np.ndarray, path: str) -> np.ndarray:
        """Check the shape of a read map and give it this kind's dtype."""
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
        """Channels the head predicts for a task of this kind:
        ``num_classes`` if the kind :attr:`needs_classes`, else
        :attr:`channels`.

        Args:
            num_classes (int, optional): The task's number of classes.

        Returns:
            int: The number of output channels.

        Raises:
            ValueError: If the kind needs classes and ``num_classes`` is
                None.
        """
        if not self.needs_classes:
            return self.channels
        if num_classes is None:
            raise ValueError(f'a {self.name} task needs its number of '
                             'classes (`decode_head.num_classes`)')
        return int(num_classes)

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

    # ------------------------------------------- contrastive regularizer
    def contrast_targets(self, gt: Tensor,
                         size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """What a task of this kind says about which pixels belong together,
        when it is the *source* of :class:`CrossTaskContrastiveRegularizer`.

        Args:
            gt (Tensor): One sample's packed ``(C, H, W)`` ground truth.
            size (tuple[int, int]): ``(h, w)`` of the target's features.

        Returns:
            tuple[Tensor, Tensor]: ``values`` of shape ``(C', h, w)``
            compared by :meth:`contrast_positives`, and the boolean
            ``(h, w)`` mask of the pixels that may be sampled.
        """
        raise self._missing('contrast_targets')

    def contrast_positives(self, values: Tensor, **settings) -> Tensor:
        """Which pairs of sampled pixels are positives: by default those
        with the same value in the first channel (labels, masks, regions).

        Args:
            values (Tensor): ``(N, C')`` values of :meth:`contrast_targets`
                at N sampled pixels.
            **settings: The regularizer's ``depth_threshold`` and
                ``normal_threshold``, for kinds that use them.

        Returns:
            Tensor: Boolean ``(N, N)`` matrix (the diagonal included).
        """
        return values[:, 0][:, None] == values[:, 0][None, :]

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
        """``H x W x 3`` uint8 RGB picture of a map.

        ``ctx`` holds the ``visualizer``, the ``task``, ``is_gt`` and, for
        a kind with a :attr:`colour_bar_unit`, the ``value_range`` shared
        by the task's panels (:meth:`value_range`).
        """
        raise self._missing('render')

    def value_range(self,
                    maps: Sequence[Optional[np.ndarray]]) -> Tuple[float,
                                                                   float]:
        """Values spanned by the colour map (and its bar) of a task's
        panels, when the kind has a :attr:`colour_bar_unit`.

        Args:
            maps (Sequence[np.ndarray | None]): The task's maps, ground
                truth first, then the prediction; missing ones are None.

        Returns:
            tuple[float, float]: ``(lo, hi)`` of the finite values of the
            first map that has any, else ``(0, 1)``.
        """
        for data in maps:
            if data is None:
                continue
            valid = data[np.isfinite(data)]
            if valid.size:
                return float(valid.min()), float(valid.max())
        return 0.0, 1.0

    def __repr__(self) -> str:
        return f'{type(self).__name__}(channels={self.channels})'
