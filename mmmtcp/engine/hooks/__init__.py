"""Training hooks of mmmtcp."""
from .safe_checkpoint_hook import (NonFiniteModelError, SafeCheckpointHook,
                                   find_resumable_checkpoint,
                                   nonfinite_tensors)
from .task_balance_hook import TaskBalanceHook
from .visualization_hook import MultiTaskVisualizationHook

__all__ = [
    'TaskBalanceHook', 'MultiTaskVisualizationHook', 'SafeCheckpointHook',
    'NonFiniteModelError', 'find_resumable_checkpoint', 'nonfinite_tensors'
]
