"""Balanced binary cross-entropy for boundaries and saliency.

The HED-style balanced loss of the multi-task literature (ASTMT, MTI-Net,
ATRC, InvPT, MT-CP): positives are weighted by ``w`` and negatives by
``1 - w``. For boundaries ``w`` is fixed (0.95); for saliency it is the
fraction of negative pixels in the batch (``pos_weight=None``), computed over
the pixels that are not ignored. The loss is averaged over the non-ignored
pixels.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class BalancedBCELoss(nn.Module):
    """Class-balanced binary cross-entropy with an ignore value.

    Args:
        pos_weight (float, optional): Weight ``w`` of positive pixels in
            ``[0, 1]`` (negatives get ``1 - w``). ``None`` uses the fraction
            of negative pixels of the batch. Defaults to None.
        ignore_index (int): Ground-truth value to ignore. Defaults to 255.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to ``'loss_bce'``.

    Returns:
        Tensor: ``forward`` returns a scalar; 0 (with gradient) when no pixel
        is valid.
    """

    def __init__(self,
                 pos_weight: Optional[float] = None,
                 ignore_index: int = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_bce') -> None:
        super().__init__()
        if pos_weight is not None and not 0.0 <= pos_weight <= 1.0:
            raise ValueError('BalancedBCELoss: `pos_weight` must be in '
                             f'[0, 1] or None, got {pos_weight}')
        self.pos_weight = pos_weight
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, 1, H, W)`` logits.
            target (Tensor): ``(B, 1, H, W)`` or ``(B, H, W)`` labels in
                ``{0, 1, ignore_index}``.
        """
        target = target.reshape(pred.shape)
        valid = (target != self.ignore_index).to(pred.dtype)
        pos = (target == 1).to(pred.dtype) * valid
        neg = valid - pos
        num_valid = valid.sum()
        if self.pos_weight is None:
            w = (neg.sum() / num_valid.clamp(min=1.0)).detach()
        else:
            w = torch.as_tensor(self.pos_weight, dtype=pred.dtype,
                                device=pred.device)
        # -log(sigmoid(x)) and -log(1 - sigmoid(x)), numerically stable
        loss = w * pos * F.softplus(-pred) + (1 - w) * neg * F.softplus(pred)
        return self.loss_weight * loss.sum() / num_valid.clamp(min=1.0)

    @property
    def loss_name(self) -> str:
        """Name of the loss item."""
        return self._loss_name
