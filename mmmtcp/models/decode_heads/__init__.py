from .base_multi_task_head import DEFAULT_LOSSES, BaseMultiTaskHead
from .mtcp_head import MTCPHead
from .multi_task_baseline_head import MultiTaskBaselineHead

__all__ = [
    'DEFAULT_LOSSES', 'BaseMultiTaskHead', 'MTCPHead', 'MultiTaskBaselineHead'
]
