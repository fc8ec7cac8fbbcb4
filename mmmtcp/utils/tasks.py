"""The task vocabulary, re-exported from :mod:`mmmtcp.tasks.task_spec`
where it is defined (next to the task kinds). Import it from
:mod:`mmmtcp.tasks`."""
from mmmtcp.tasks.task_spec import (BUILTIN_TASKS, IGNORE_INDEX,
                                    NONFINITE_LABEL, TASKS, TaskSpec,
                                    check_tasks, get_task, gt_keys,
                                    lower_is_better, metric_names, pick_task,
                                    register_task, task_of_gt_key)

__all__ = [
    'BUILTIN_TASKS', 'IGNORE_INDEX', 'NONFINITE_LABEL', 'TASKS', 'TaskSpec',
    'check_tasks', 'get_task', 'gt_keys', 'lower_is_better', 'metric_names',
    'pick_task', 'register_task', 'task_of_gt_key'
]
