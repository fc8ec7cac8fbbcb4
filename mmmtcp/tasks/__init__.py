"""Dense prediction tasks: the task vocabulary (:mod:`.task_spec`:
:class:`TaskSpec`, :data:`TASKS`, :func:`register_task`, ...) and the kinds
of task, registered in :data:`mmmtcp.registry.TASK_KINDS` (see
:mod:`.base_task_kind`).

The kinds stand on the ground floor, :mod:`mmmtcp.functional` (readers,
masked resampling, measures), and on the registry; the data sets, models,
metric and visualizer above call them.
"""
from .base_task_kind import COHERENCE_ROLES, BaseTaskKind, resize_nearest
from .binary_kind import BinaryKind
from .boundary_kind import BoundaryKind, boundary_regions
from .depth_kind import DepthKind
from .label_kind import LabelKind
from .normal_kind import NormalKind
from .regression_kind import RegressionKind
from .task_spec import (BUILTIN_TASKS, IGNORE_INDEX, NONFINITE_LABEL, TASKS,
                        TaskSpec, check_tasks, get_task, gt_keys,
                        lower_is_better, metric_names, pick_task,
                        register_task, task_of_gt_key)

__all__ = [
    'BUILTIN_TASKS', 'IGNORE_INDEX', 'NONFINITE_LABEL', 'TASKS', 'TaskSpec',
    'check_tasks', 'get_task', 'gt_keys', 'lower_is_better', 'metric_names',
    'pick_task', 'register_task', 'task_of_gt_key', 'COHERENCE_ROLES',
    'BaseTaskKind', 'LabelKind', 'BinaryKind', 'BoundaryKind', 'DepthKind',
    'NormalKind', 'RegressionKind', 'boundary_regions', 'resize_nearest'
]
