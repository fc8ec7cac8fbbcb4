"""The public vocabulary of dense prediction tasks.

Every part of mmmtcp (datasets, transforms, packing, the data preprocessor,
heads, metrics and the visualizer) refers to tasks by the names defined here
and finds their maps under the field names defined here. A task is a named
instance of a *kind* (:mod:`mmmtcp.tasks`, registered in
:data:`mmmtcp.registry.TASK_KINDS`), which owns how its maps are read,
resized, packed, predicted, scored and drawn. The six tasks of the
NYUD-v2 / PASCAL-Context protocol are built in; a new task is declared in a
config as ``dict(name='albedo', kind='regression', channels=3)`` wherever a
``tasks`` list is accepted (data set, head, evaluator: the same declaration
everywhere) and registered on first use (:func:`register_task`).

Conventions of the built-in maps (all stored at image resolution):

- ``semseg`` / ``human_parts``: integer class ids, ``255`` is ignored.
- ``depth``: metres as float32, ``0`` (or any value ``<= 0``) is invalid.
- ``normals``: float32 ``H x W x 3`` unit vectors in the camera frame given by
  the dataset's ``normal_axes`` metainfo; an all-zero vector is invalid.
- ``edge`` / ``saliency``: ``0`` / ``1`` masks, ``255`` is ignored.
- ``regression`` kinds: float32, NaN marks invalid pixels.

This module depends on nothing else of mmmtcp but the kind registry, so that
every layer (readers, transforms, measures, kinds, models) can import it.
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmmtcp.functional.dense import NONFINITE_LABEL  # noqa: F401 (vocabulary)
from mmmtcp.registry import TASK_KINDS

IGNORE_INDEX = 255

_KIND_CACHE: Dict[Tuple[str, int], Any] = {}


@dataclass(frozen=True)
class TaskSpec:
    """A dense prediction task: a named instance of a task *kind*.

    Args:
        name (str): Task name used in configs and loss keys.
        gt_key (str): Key of the ground-truth map in the pipeline's results
            dict (and in ``seg_fields``).
        gt_field (str): Field of :class:`SegDataSample` holding the packed
            ground truth as ``PixelData``.
        pred_field (str): Field of :class:`SegDataSample` holding the
            prediction as ``PixelData``.
        kind (str): Name of the kind in :data:`mmmtcp.registry.TASK_KINDS`:
            ``'label'``, ``'binary'``, ``'boundary'``, ``'depth'``,
            ``'normal'``, ``'regression'`` or one registered by the user.
        channels (int): Channels of the ground-truth map. Defaults to 1.
        classes_key (str, optional): Dataset metainfo key of the class names
            (label tasks), e.g. ``'classes'``.
        palette_key (str, optional): Dataset metainfo key of the class
            colours (label tasks), e.g. ``'palette'``.
        primary (bool): Whether the task is preferred over the other tasks
            of its kind wherever one of them is picked by default: the
            labels an int ``decode_head.num_classes`` and the auxiliary
            head of :class:`MultiTaskSegmentor` refer to, and the tasks of
            the default coherence pairs of :class:`MultiTaskMetric`. Among
            several primary tasks the first listed wins (see
            :func:`pick_task`). Defaults to False.
    """
    name: str
    gt_key: str
    gt_field: str
    pred_field: str
    kind: str
    channels: int = 1
    classes_key: Optional[str] = None
    palette_key: Optional[str] = None
    primary: bool = False

    @property
    def kind_impl(self):
        """The :class:`~mmmtcp.tasks.BaseTaskKind` object of this task."""
        key = (self.kind, self.channels)
        if key not in _KIND_CACHE:
            cls = TASK_KINDS.get(self.kind)
            if cls is None:
                raise KeyError(
                    f'Task {self.name!r} has kind {self.kind!r}, which is '
                    'not registered in mmmtcp.registry.TASK_KINDS (known: '
                    f'{sorted(TASK_KINDS.module_dict)})')
            _KIND_CACHE[key] = cls(channels=self.channels)
        return _KIND_CACHE[key]

    @property
    def is_label(self) -> bool:
        """Whether the ground truth holds integer labels with ignore 255."""
        return self.kind_impl.is_label

    @property
    def needs_classes(self) -> bool:
        """Whether the head needs the task's number of classes
        (``decode_head.num_classes``) to predict it."""
        return self.kind_impl.needs_classes

    @property
    def pad_val(self) -> float:
        """Fill of padded / invalid ground-truth pixels."""
        return self.kind_impl.pad_val


TASKS: Dict[str, TaskSpec] = {
    'semseg':
    TaskSpec('semseg', 'gt_seg_map', 'gt_sem_seg', 'pred_sem_seg', 'label',
             classes_key='classes', palette_key='palette', primary=True),
    'depth':
    TaskSpec('depth', 'gt_depth_map', 'gt_depth_map', 'pred_depth_map',
             'depth', primary=True),
    'normals':
    TaskSpec('normals', 'gt_normal_map', 'gt_normal_map', 'pred_normal_map',
             'normal', channels=3, primary=True),
    'edge':
    TaskSpec('edge', 'gt_edge_map', 'gt_edge_map', 'pred_edge_map',
             'boundary', primary=True),
    'human_parts':
    TaskSpec('human_parts', 'gt_human_parts', 'gt_human_parts',
             'pred_human_parts', 'label', classes_key='human_parts_classes',
             palette_key='human_parts_palette'),
    'saliency':
    TaskSpec('saliency', 'gt_saliency_map', 'gt_saliency_map',
             'pred_saliency_map', 'binary', primary=True),
}
BUILTIN_TASKS = tuple(TASKS)


def register_task(decl: Union[dict, TaskSpec]) -> TaskSpec:
    """Declare a task (once; the same declaration again is a no-op).

    Args:
        decl (dict | TaskSpec): ``dict(name=..., kind=..., channels=...)``
            with optional ``gt_key`` (default ``'gt_<name>_map'``),
            ``gt_field`` (default: ``gt_key``), ``pred_field`` (default
            ``'pred_<name>_map'``), ``classes_key``, ``palette_key`` and
            ``primary``.

    Returns:
        TaskSpec: The registered task.

    Raises:
        ValueError: If the name is declared with different settings, the
            declaration lacks ``name`` / ``kind`` or has unknown keys.
        KeyError: If the kind is not registered.
    """
    if isinstance(decl, dict):
        decl = dict(decl)
        missing = [k for k in ('name', 'kind') if k not in decl]
        if missing:
            raise ValueError(f'task declaration {decl} needs {missing}')
        name = decl['name']
        decl.setdefault('gt_key', f'gt_{name}_map')
        decl.setdefault('gt_field', decl['gt_key'])
        decl.setdefault('pred_field', f'pred_{name}_map')
        try:
            spec = TaskSpec(**decl)
        except TypeError as e:
            raise ValueError(f'task declaration {decl}: {e}') from None
    else:
        spec = decl
    old = TASKS.get(spec.name)
    if old is not None:
        if old != spec:
            raise ValueError(
                f'Task {spec.name!r} is already declared as {asdict(old)}; '
                f'cannot redeclare it as {asdict(spec)}')
        return old
    spec.kind_impl  # noqa: B018  (fails now for an unknown kind)
    clash = [t.name for t in TASKS.values()
             if {t.gt_key, t.gt_field, t.pred_field} & {
                 spec.gt_key, spec.gt_field, spec.pred_field}]
    if clash:
        raise ValueError(f'Task {spec.name!r} uses a field name of task(s) '
                         f'{clash}; give it its own gt_key / gt_field / '
                         'pred_field')
    TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    """Return the :class:`TaskSpec` of a task, with a clear error if unknown.

    Args:
        name (str): Task name.

    Returns:
        TaskSpec: The task's description.
    """
    if name not in TASKS:
        raise KeyError(f'Unknown task {name!r}; known tasks are '
                       f'{sorted(TASKS)} (declare a new one as '
                       "dict(name=..., kind=..., channels=...) in the "
                       '`tasks` of the config)')
    return TASKS[name]


def check_tasks(tasks: Sequence[Union[str, dict]],
                key: str = 'tasks') -> List[str]:
    """Validate a list of tasks, registering the declared ones.

    Args:
        tasks (Sequence[str | dict]): Task names, or declarations
            (:func:`register_task`) of tasks not built in.
        key (str): Name of the config key holding them, used in errors.

    Returns:
        list[str]: The task names as a list, in the given order.
    """
    if isinstance(tasks, (str, dict)):
        tasks = [tasks]
    names = []
    for task in tasks:
        if isinstance(task, dict):
            try:
                task = register_task(task).name
            except (KeyError, ValueError) as e:
                raise ValueError(f'`{key}`: {e}') from None
        names.append(task)
    unknown = [t for t in names if t not in TASKS]
    if unknown:
        raise ValueError(f'`{key}` contains unknown task(s) {unknown}; known '
                         f'tasks are {sorted(TASKS)} (declare a new one as '
                         "dict(name=..., kind=..., channels=...))")
    if len(set(names)) != len(names):
        raise ValueError(f'`{key}` lists a task twice: {names}')
    return names


def pick_task(tasks: Sequence[str]) -> Optional[str]:
    """The task picked by default among ``tasks`` (e.g. the label tasks of
    a model): the first one declared ``primary``, else the first one.

    Args:
        tasks (Sequence[str]): Candidate task names, in the order of the
            config.

    Returns:
        str | None: The picked task, ``None`` if ``tasks`` is empty.
    """
    for task in tasks:
        if get_task(task).primary:
            return task
    return tasks[0] if len(tasks) else None


def gt_keys(tasks: Sequence[str]) -> List[str]:
    """Results-dict keys of the ground-truth maps of ``tasks``."""
    return [get_task(t).gt_key for t in tasks]


def task_of_gt_key(key: str) -> Optional[TaskSpec]:
    """The task whose ground truth is stored under results key ``key``."""
    for spec in TASKS.values():
        if spec.gt_key == key:
            return spec
    return None


def metric_names(task: str) -> Tuple[str, ...]:
    """Metric names of a task, its primary metric first."""
    return tuple(get_task(task).kind_impl.metric_names)


def lower_is_better(task: str, name: str) -> bool:
    """Whether lower values of metric ``name`` of ``task`` are better."""
    return task in TASKS and name in get_task(task).kind_impl.lower_is_better
