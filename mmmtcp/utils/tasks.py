"""The public vocabulary of dense prediction tasks.

Every part of mmmtcp (datasets, transforms, packing, the data preprocessor,
heads, metrics and the visualizer) refers to tasks by the names defined here
and finds their maps under the field names defined here, so that one task's
conventions live in one place.

Conventions of the maps (all stored at image resolution):

- ``semseg`` / ``human_parts``: integer class ids, ``255`` is ignored.
- ``depth``: metres as float32, ``0`` (or any value ``<= 0``) is invalid.
- ``normals``: float32 ``H x W x 3`` unit vectors in the camera frame given by
  the dataset's ``normal_axes`` metainfo; an all-zero vector is invalid.
- ``edge`` / ``saliency``: ``0`` / ``1`` masks, ``255`` is ignored.
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence, Union


@dataclass(frozen=True)
class TaskSpec:
    """Description of one dense prediction task.

    Args:
        name (str): Task name used in configs and loss keys.
        gt_key (str): Key of the ground-truth map in the pipeline's results
            dict (and in ``seg_fields``).
        gt_field (str): Field of :class:`SegDataSample` holding the packed
            ground truth as ``PixelData``.
        pred_field (str): Field of :class:`SegDataSample` holding the
            prediction as ``PixelData``.
        kind (str): ``'label'`` (multi-class map), ``'binary'`` (0/1 mask),
            ``'depth'`` (positive scalar) or ``'normal'`` (3-vector).
        pad_val (float): Fill value used when padding or marking invalid
            pixels of the ground truth.
        channels (int | None): Channels of the ground truth map.
    """
    name: str
    gt_key: str
    gt_field: str
    pred_field: str
    kind: str
    pad_val: Union[int, float]
    channels: int = 1

    @property
    def is_label(self) -> bool:
        """Whether the ground truth holds integer labels with ignore 255."""
        return self.kind in ('label', 'binary')


IGNORE_INDEX = 255
#: label of a predicted pixel whose raw output was non-finite (no class)
NONFINITE_LABEL = -1

TASKS: Dict[str, TaskSpec] = {
    'semseg':
    TaskSpec('semseg', 'gt_seg_map', 'gt_sem_seg', 'pred_sem_seg', 'label',
             IGNORE_INDEX),
    'depth':
    TaskSpec('depth', 'gt_depth_map', 'gt_depth_map', 'pred_depth_map',
             'depth', 0.0),
    'normals':
    TaskSpec('normals', 'gt_normal_map', 'gt_normal_map', 'pred_normal_map',
             'normal', 0.0, channels=3),
    'edge':
    TaskSpec('edge', 'gt_edge_map', 'gt_edge_map', 'pred_edge_map', 'binary',
             IGNORE_INDEX),
    'human_parts':
    TaskSpec('human_parts', 'gt_human_parts', 'gt_human_parts',
             'pred_human_parts', 'label', IGNORE_INDEX),
    'saliency':
    TaskSpec('saliency', 'gt_saliency_map', 'gt_saliency_map',
             'pred_saliency_map', 'binary', IGNORE_INDEX),
}


def get_task(name: str) -> TaskSpec:
    """Return the :class:`TaskSpec` of a task, with a clear error if unknown.

    Args:
        name (str): Task name.

    Returns:
        TaskSpec: The task's description.
    """
    if name not in TASKS:
        raise KeyError(f'Unknown task {name!r}; known tasks are '
                       f'{sorted(TASKS)}')
    return TASKS[name]


def check_tasks(tasks: Sequence[str], key: str = 'tasks') -> List[str]:
    """Validate a list of task names.

    Args:
        tasks (Sequence[str]): Task names.
        key (str): Name of the config key holding them, used in errors.

    Returns:
        list[str]: The task names as a list, in the given order.
    """
    if isinstance(tasks, str):
        tasks = [tasks]
    tasks = list(tasks)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f'`{key}` contains unknown task(s) {unknown}; known '
                         f'tasks are {sorted(TASKS)}')
    if len(set(tasks)) != len(tasks):
        raise ValueError(f'`{key}` lists a task twice: {tasks}')
    return tasks


def gt_keys(tasks: Sequence[str]) -> List[str]:
    """Results-dict keys of the ground-truth maps of ``tasks``."""
    return [get_task(t).gt_key for t in tasks]
