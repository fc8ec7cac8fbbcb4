"""L1 surface-normal loss on unit-normalized predictions.

The normals loss of ATRC / InvPT / MT-CP: the prediction is normalized to
unit length per pixel and compared with the ground-truth unit vector by the
L1 distance summed over the 3 components, averaged over valid pixels. A
ground-truth pixel is valid when its vector is not all zero (the reference
requires every component to be non-zero, which wrongly drops valid normals
such as ``(0, 0, 1)``).
"""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class NormalL1Loss(nn.Module):
    """L1 between unit-normalized predicted and ground-truth normals.

    Args:
        normalize (bool): Normalize the prediction to unit length before the
            loss. Defaults to True.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to
            ``'loss_normals'``.

    Returns:
        Tensor: ``forward`` returns a scalar; 0 (with gradient) when no pixel
        is valid.
    """

    def __init__(self,
                 normalize: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_normals') -> None:
        super().__init__()
        self.normalize = normalize
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, 3, H, W)`` predicted normals (any length).
            target (Tensor): ``(B, 3, H, W)`` unit ground truth, all-zero
                vectors invalid.
        """
        if pred.shape != target.shape:
            raise ValueError(f'NormalL1Loss: prediction {tuple(pred.shape)} '
                             f'and target {tuple(target.shape)} differ')
        target = target.to(pred.dtype)
        if self.normalize:
            pred = F.normalize(pred, p=2, dim=1, eps=1e-12)
        valid = (target != 0).any(dim=1, keepdim=True).to(pred.dtype)
        err = ((pred - target).abs() * valid).sum()
        return self.loss_weight * err / valid.sum().clamp(min=1.0)

    @property
    def loss_name(self) -> str:
        """Name of the loss item."""
        return self._loss_name
