"""L1 depth loss over valid pixels.

The depth loss of the multi-task dense prediction literature (MTI-Net, ATRC,
InvPT, MT-CP): mean absolute error in metres over the pixels with a valid
ground-truth depth (``gt > 0``; padding and missing depth are 0).
"""
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class DepthL1Loss(nn.Module):
    """Mean L1 error over pixels whose ground truth is ``> min_depth``.

    Args:
        min_depth (float): Ground truth ``<= min_depth`` is invalid.
            Defaults to 0.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to
            ``'loss_depth'``.

    Returns:
        Tensor: ``forward`` returns a scalar; 0 (with gradient) when no pixel
        is valid.
    """

    def __init__(self,
                 min_depth: float = 0.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_depth') -> None:
        super().__init__()
        self.min_depth = min_depth
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, 1, H, W)`` predicted depth.
            target (Tensor): ``(B, 1, H, W)`` or ``(B, H, W)`` ground truth.
        """
        target = target.reshape(pred.shape).to(pred.dtype)
        valid = (target > self.min_depth).to(pred.dtype)
        err = (pred - target).abs() * valid
        loss = err.sum() / valid.sum().clamp(min=1.0)
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Name of the loss item."""
        return self._loss_name
