"""Training hooks of mmmtcp."""
from .task_balance_hook import TaskBalanceHook
from .visualization_hook import MultiTaskVisualizationHook

__all__ = ['TaskBalanceHook', 'MultiTaskVisualizationHook']
