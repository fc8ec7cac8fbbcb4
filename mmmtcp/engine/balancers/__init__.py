"""Task balancers: how per-task losses are weighted into one objective."""
from .base_balancer import BaseTaskBalancer, PeriodicTaskBalancer
from .dynamic_weight_average import DynamicWeightAverage
from .fixed_task_weights import FixedTaskWeights
from .loss_prioritization import LossPrioritization
from .task_grouping import LossGrouper
from .uncertainty_weighting import UncertaintyWeighting

__all__ = [
    'BaseTaskBalancer', 'PeriodicTaskBalancer', 'DynamicWeightAverage',
    'FixedTaskWeights', 'LossPrioritization', 'LossGrouper',
    'UncertaintyWeighting'
]
