from .checkpoint import (UnsafeCheckpointError, checkpoint_safe_globals,
                         load_from_local_safely,
                         register_safe_checkpoint_loader, safe_torch_load)
from .tasks import IGNORE_INDEX, TASKS, TaskSpec, check_tasks, get_task, gt_keys

__all__ = [
    'IGNORE_INDEX', 'TASKS', 'TaskSpec', 'check_tasks', 'get_task', 'gt_keys',
    'UnsafeCheckpointError', 'checkpoint_safe_globals',
    'load_from_local_safely', 'register_safe_checkpoint_loader',
    'safe_torch_load'
]
