"""Training hooks of mmmtcp."""
from .divergence_hook import DivergenceError, DivergenceHook
from .gradient_audit_hook import GradientAuditHook
from .multi_task_check_hook import MultiTaskCheckHook
from .safe_checkpoint_hook import (NonFiniteModelError, SafeCheckpointHook,
                                   find_resumable_checkpoint,
                                   nonfinite_tensors)
from .task_balance_hook import TaskBalanceHook
from .visualization_hook import MultiTaskVisualizationHook

__all__ = [
    'TaskBalanceHook', 'MultiTaskVisualizationHook', 'SafeCheckpointHook',
    'NonFiniteModelError', 'MultiTaskCheckHook', 'find_resumable_checkpoint',
    'nonfinite_tensors', 'GradientAuditHook', 'DivergenceHook',
    'DivergenceError'
]
