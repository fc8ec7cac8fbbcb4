"""Per-component L1 / squared error of surface normals, as the released
MT-CP code trains them.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025. Its NYUD-v2 run
(``MT_simple_final.yml``) trains the normals' main output with
``NormalsLoss()`` of the MTL-PyTorch code base at its defaults, a squared
error (``norm=2``) on the *unnormalized* prediction, and the two side
outputs with ``DepthLoss()``, an L1. Both average over the valid vector
components (the loader marks invalid normals with 255, which both losses
mask), not over pixels as :class:`NormalL1Loss` does.
"""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class ComponentNormalLoss(nn.Module):
    """Mean of ``|pred - target|^p`` over the valid normal components.

    Args:
        p (int): 1 (L1) or 2 (squared error, the released code's main
            normals loss). Defaults to 2.
        normalize (bool): Normalize the prediction to unit length first.
            The released code does not. Defaults to False.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to
            ``'loss_normals'``.

    Returns:
        Tensor: ``forward`` returns a scalar; 0 (with gradient) when no
        pixel is valid.
    """

    def __init__(self,
                 p: int = 2,
                 normalize: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_normals') -> None:
        super().__init__()
        if p not in (1, 2):
            raise ValueError(f'ComponentNormalLoss: `p` must be 1 or 2, got '
                             f'{p!r}')
        self.p = p
        self.normalize = normalize
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, 3, H, W)`` predicted normals.
            target (Tensor): ``(B, 3, H, W)`` unit ground truth, all-zero
                vectors invalid.
        """
        if pred.shape != target.shape:
            raise ValueError(
                f'ComponentNormalLoss: prediction {tuple(pred.shape)} and '
                f'target {tuple(target.shape)} differ')
        target = target.to(pred.dtype)
        if self.normalize:
            pred = F.normalize(pred, p=2, dim=1, eps=1e-12)
        valid = (target != 0).any(dim=1, keepdim=True).to(pred.dtype)
        err = (pred - target).abs()
        if self.p == 2:
            err = err.square()
        count = valid.sum() * pred.shape[1]
        return self.loss_weight * (err * valid).sum() / count.clamp(min=1.0)

    @property
    def loss_name(self) -> str:
        """Name of the loss item."""
        return self._loss_name
