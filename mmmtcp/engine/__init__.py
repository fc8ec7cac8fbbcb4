"""Training-time machinery: task balancers and hooks."""
from .balancers import (BaseTaskBalancer, DynamicWeightAverage,
                        FixedTaskWeights, LossGrouper, LossPrioritization,
                        PeriodicTaskBalancer, UncertaintyWeighting)
from .hooks import MultiTaskVisualizationHook, TaskBalanceHook

__all__ = [
    'BaseTaskBalancer', 'PeriodicTaskBalancer', 'DynamicWeightAverage',
    'FixedTaskWeights', 'LossGrouper', 'LossPrioritization',
    'UncertaintyWeighting', 'TaskBalanceHook', 'MultiTaskVisualizationHook'
]
