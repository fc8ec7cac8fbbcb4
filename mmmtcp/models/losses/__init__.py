from .balanced_bce_loss import BalancedBCELoss
from .component_normal_loss import ComponentNormalLoss
from .depth_l1_loss import DepthL1Loss
from .normal_l1_loss import NormalL1Loss
from .regression_l1_loss import RegressionL1Loss

__all__ = [
    'BalancedBCELoss', 'ComponentNormalLoss', 'DepthL1Loss', 'NormalL1Loss',
    'RegressionL1Loss'
]
