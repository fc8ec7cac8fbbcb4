from .base_multi_task_head import BaseMultiTaskHead
from .mtcp_head import MTCPHead
from .multi_task_baseline_head import MultiTaskBaselineHead

__all__ = [
    'BaseMultiTaskHead', 'MTCPHead', 'MultiTaskBaselineHead'
]
