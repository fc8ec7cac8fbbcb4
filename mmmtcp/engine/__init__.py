"""Training-time machinery: task balancers, hooks, optimizer wrappers and
the atomic file backend of the checkpoints."""
from .atomic_local_backend import AtomicLocalBackend, atomic_write
from .balancers import (BaseTaskBalancer, DynamicWeightAverage,
                        FixedTaskWeights, LossGrouper, LossPrioritization,
                        PeriodicTaskBalancer, UncertaintyWeighting)
from .gradient_audit import audit_gradients
from .hooks import (DivergenceError, DivergenceHook, GradientAuditHook,
                    MultiTaskCheckHook,
                    MultiTaskVisualizationHook, NonFiniteModelError,
                    SafeCheckpointHook, TaskBalanceHook,
                    find_resumable_checkpoint, nonfinite_tensors)
from .optimizers import (SkipNonFiniteAmpOptimWrapper,
                         SkipNonFiniteOptimWrapper, is_skipping)

__all__ = [
    'BaseTaskBalancer', 'PeriodicTaskBalancer', 'DynamicWeightAverage',
    'FixedTaskWeights', 'LossGrouper', 'LossPrioritization',
    'UncertaintyWeighting', 'TaskBalanceHook', 'MultiTaskVisualizationHook',
    'SafeCheckpointHook', 'MultiTaskCheckHook', 'NonFiniteModelError',
    'find_resumable_checkpoint', 'nonfinite_tensors', 'AtomicLocalBackend',
    'atomic_write', 'GradientAuditHook', 'audit_gradients', 'DivergenceHook',
    'DivergenceError', 'SkipNonFiniteOptimWrapper',
    'SkipNonFiniteAmpOptimWrapper', 'is_skipping'
]
