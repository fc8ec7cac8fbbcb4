"""L1 loss of generic n-channel regression maps over valid pixels.

The default loss of tasks of kind ``'regression'`` (:mod:`mmmtcp.tasks`):
mean absolute error over the components of the pixels whose ground truth
is finite (padding and missing values are NaN).
"""
from torch import Tensor, nn

from mmseg.registry import MODELS


@MODELS.register_module()
class RegressionL1Loss(nn.Module):
    """Mean L1 error over the finite ground-truth values.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to
            ``'loss_regression'``.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_regression') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, C, H, W)`` prediction.
            target (Tensor): ``(B, C, H, W)`` ground truth, NaN where
                invalid.

        Returns:
            Tensor: A scalar; 0 (with gradient) when no value is valid.
        """
        target = target.reshape(pred.shape).to(pred.dtype)
        valid = target.isfinite()
        err = (pred - target.nan_to_num()).abs() * valid
        loss = err.sum() / valid.sum().clamp(min=1)
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Name of the loss item."""
        return self._loss_name
