"""Kinds of dense prediction task, registered in
:data:`mmmtcp.registry.TASK_KINDS` (see :mod:`.base_task_kind`)."""
from .base_task_kind import BaseTaskKind
from .binary_kind import BinaryKind
from .boundary_kind import BoundaryKind
from .depth_kind import DepthKind
from .label_kind import LabelKind
from .normal_kind import NormalKind
from .regression_kind import RegressionKind

__all__ = [
    'BaseTaskKind', 'LabelKind', 'BinaryKind', 'BoundaryKind', 'DepthKind',
    'NormalKind', 'RegressionKind'
]
