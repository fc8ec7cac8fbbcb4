"""Resolution and checks of a :class:`MultiTaskSegmentor` config.

What the segmentor does to its config before building its parts: mmseg's
``pretrained`` becomes the backbone's ``init_cfg``, an int
``decode_head.num_classes`` becomes ``{task: int}``, keys that an inherited
mmseg decode head left in the multi-task head config are named, the tasks
of the auxiliary heads are picked and checked, the regularizers get the
head's tasks and feature width, and ``test_cfg`` is checked. Every error
names the config key to change.
"""
import copy
import inspect
from typing import List, Mapping, Optional, Sequence, Union

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from mmmtcp.tasks import check_tasks, get_task


def needs_classes(task: str) -> bool:
    """Whether the head needs ``num_classes`` for ``task``.

    Args:
        task (str): A registered task name.

    Returns:
        bool: The kind's :attr:`~mmmtcp.tasks.BaseTaskKind.needs_classes`.
    """
    return get_task(task).needs_classes


def main_label_task(tasks: Sequence[str]) -> Optional[str]:
    """The label task an int ``num_classes`` or an auxiliary head refers to.

    Args:
        tasks (Sequence[str]): Task names.

    Returns:
        str | None: The first task that needs a class count and is declared
        ``primary`` (semseg), else the only task that needs a class count,
        else ``None``.
    """
    labelled = [t for t in tasks if needs_classes(t)]
    primary = [t for t in labelled if get_task(t).primary]
    if primary:
        return primary[0]
    return labelled[0] if len(labelled) == 1 else None


def init_kwargs(cls: type) -> Optional[set]:
    """Keyword arguments a class's constructor chain accepts.

    Args:
        cls (type): The class.

    Returns:
        set[str] | None: The names, or ``None`` when the chain ends in
        ``**kwargs`` that nothing consumes explicitly.
    """
    names: set = set()
    for klass in cls.__mro__:
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names.update(p.name for p in params
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                     and p.name != 'self')
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return None


def with_pretrained(backbone: ConfigType, pretrained: str) -> dict:
    """The backbone config initialized from ``pretrained`` (mmseg's
    ``EncoderDecoder`` meaning of ``model.pretrained``).

    Args:
        backbone (dict): Backbone config; must set neither ``pretrained``
            nor ``init_cfg``.
        pretrained (str): Checkpoint path or URL.

    Returns:
        dict: A copy of ``backbone`` with ``init_cfg=dict(type='Pretrained',
        checkpoint=pretrained)``.
    """
    if not isinstance(pretrained, str):
        raise TypeError('`model.pretrained` must be a checkpoint path or '
                        f'URL (str) or None, got {pretrained!r}')
    for key in ('pretrained', 'init_cfg'):
        if backbone.get(key) is not None:
            raise ValueError(
                f'`model.pretrained` ({pretrained!r}) and '
                f'`model.backbone.{key}` ({backbone[key]!r}) are both '
                'set; set only one. mmseg base configs set '
                '`model.pretrained` (e.g. fcn_r50-d8.py: '
                '"open-mmlab://resnet50_v1c"): write '
                '`model=dict(pretrained=None, ...)` to use the '
                f'backbone\'s `{key}` instead.')
    backbone = copy.deepcopy(backbone)
    backbone['init_cfg'] = dict(type='Pretrained', checkpoint=pretrained)
    return backbone


def resolve_num_classes(decode_head: ConfigType) -> ConfigType:
    """Turn an int ``decode_head.num_classes`` into ``{task: int}``.

    Args:
        decode_head (dict): Multi-task head config.

    Returns:
        dict: ``decode_head`` itself when ``num_classes`` or ``tasks`` is
        not set or ``num_classes`` is already a mapping, else a copy whose
        ``num_classes`` names the :func:`main_label_task`.
    """
    num_classes = decode_head.get('num_classes')
    if num_classes is None or isinstance(num_classes, Mapping) or \
            decode_head.get('tasks') is None:
        return decode_head
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise ValueError(
            '`model.decode_head.num_classes` must be an int (the classes '
            'of the primary label task such as semseg, or of the only '
            'label task) or a dict '
            f'{{task: classes}}, got {num_classes!r}')
    tasks = check_tasks(decode_head['tasks'], 'model.decode_head.tasks')
    task = main_label_task(tasks)
    if task is None:
        labelled = [t for t in tasks if needs_classes(t)]
        raise ValueError(
            f'`model.decode_head.num_classes` is an int ({num_classes}), '
            'which means the classes of the primary label task (such as '
            f'`semseg`) or of the only label task, but the tasks {tasks} '
            'have '
            + (f'several label tasks {labelled}' if labelled else
               'no label task') +
            '; write a dict, e.g. `num_classes=dict('
            + ', '.join(f'{t}=...' for t in labelled) + ')`'
            + ('' if labelled else ' or leave it out'))
    decode_head = dict(decode_head)
    decode_head['num_classes'] = {task: num_classes}
    return decode_head


def check_head_keys(decode_head: ConfigType) -> None:
    """Name the keys an mmseg base config left in the head config.

    Args:
        decode_head (dict): Multi-task head config.

    Raises:
        ValueError: If it has keys the head's constructor does not take
            (not checked when the constructor takes ``**kwargs``).
    """
    head_type = decode_head.get('type')
    head_cls = MODELS.get(head_type) if isinstance(head_type,
                                                   str) else head_type
    if not inspect.isclass(head_cls):
        return
    accepted = init_kwargs(head_cls)
    if accepted is None:
        return
    extra = sorted(set(decode_head) - accepted - {'type', '_scope_'})
    if extra:
        raise ValueError(
            f'`model.decode_head` ({head_cls.__name__}) does not take '
            f'{extra}. Keys like these come from the decode head of an '
            'mmseg base config (SegformerHead, UPerHead, FCNHead, ...), '
            'merged into the multi-task head: replace that head instead, '
            f"with `decode_head=dict(_delete_=True, type="
            f"'{head_cls.__name__}', ...)` (see configs/mixed/).")


def auxiliary_tasks(auxiliary_task: Optional[Union[str, Sequence[str]]],
                    num_heads: int, tasks: Sequence[str]) -> List[str]:
    """The task whose labels train each auxiliary head.

    Args:
        auxiliary_task (str | Sequence[str], optional): ``model.
            auxiliary_task``: one task for all heads, one per head, or
            ``None`` for the :func:`main_label_task` of ``tasks``.
        num_heads (int): Number of auxiliary heads.
        tasks (Sequence[str]): The decode head's tasks.

    Returns:
        list[str]: One task per head (checked by
        :func:`check_auxiliary_head`, not here).
    """
    if auxiliary_task is None:
        task = main_label_task(tasks)
        if task is None:
            raise ValueError(
                '`model.auxiliary_head` is trained on the labels of one '
                'task, by default the primary label task (such as semseg) '
                'or the only label task, but '
                f'`model.decode_head.tasks` {tasks} has neither; '
                'set `model.auxiliary_task`.')
        return [task] * num_heads
    if isinstance(auxiliary_task, str):
        return [auxiliary_task] * num_heads
    picked = list(auxiliary_task)
    if len(picked) != num_heads:
        raise ValueError(
            f'`model.auxiliary_task` lists {len(picked)} tasks for '
            f'{num_heads} auxiliary heads; give one task for all or '
            'one per head.')
    return picked


def check_auxiliary_head(cfg: ConfigType, task: str, where: str,
                         tasks: Sequence[str],
                         num_classes: Mapping[str, int]) -> None:
    """Check that an mmseg auxiliary head can be trained on ``task``.

    Args:
        cfg (dict): The auxiliary head's config.
        task (str): The task whose labels train it.
        where (str): The head's config key, for the messages (e.g.
            ``'model.auxiliary_head[1]'``).
        tasks (Sequence[str]): The decode head's tasks.
        num_classes (Mapping[str, int]): The decode head's classes per task.

    Raises:
        ValueError: If ``task`` is not one of ``tasks``, has no class
            labels, or its class count differs from ``cfg.num_classes``.
    """
    if task not in tasks:
        raise ValueError(
            f'`model.auxiliary_task` {task!r} (of `{where}`) is not '
            f'one of `model.decode_head.tasks` {tasks}')
    if not get_task(task).is_label:
        raise ValueError(
            f'`{where}` is an mmseg decode head, trained with class '
            f'labels, but task {task!r} (kind '
            f'{get_task(task).kind!r}) has no labels; set '
            '`model.auxiliary_task` to a label task.')
    expected = num_classes.get(task)
    got = cfg.get('num_classes')
    if expected is not None and got != expected:
        raise ValueError(
            f'`{where}.num_classes` is {got} but '
            f'`model.decode_head.num_classes` of task {task!r} is '
            f'{expected}; set `{where}.num_classes={expected}` (an '
            'mmseg base config sets it for its own data set, e.g. '
            '19 for Cityscapes).')


def regularizer_cfg(cfg: ConfigType, tasks: Sequence[str],
                    in_channels: int) -> dict:
    """A regularizer config completed with the head's tasks and width.

    Args:
        cfg (dict): One entry of ``model.regularizer``.
        tasks (Sequence[str]): The decode head's tasks.
        in_channels (int): The decode head's ``channels``.

    Returns:
        dict: A copy of ``cfg`` whose ``tasks`` / ``in_channels`` are set
        to the given values when the regularizer's constructor takes them
        and the config leaves them out (or sets them to ``None``).
    """
    cfg = dict(cfg)
    reg_cls = MODELS.get(cfg['type']) if isinstance(
        cfg.get('type'), str) else cfg.get('type')
    params = inspect.signature(reg_cls).parameters if inspect.isclass(
        reg_cls) else {}
    defaults = dict(tasks=tasks, in_channels=in_channels)
    for key, value in defaults.items():
        if key in params and cfg.get(key) is None:
            cfg[key] = value
    return cfg


def check_test_cfg(test_cfg: OptConfigType) -> ConfigType:
    """``model.test_cfg``, checked.

    Args:
        test_cfg (dict, optional): ``dict(mode='whole')`` or
            ``dict(mode='slide', crop_size=(h, w), stride=(h, w))``.

    Returns:
        dict: ``test_cfg``, or ``dict(mode='whole')`` when it is ``None``.
    """
    test_cfg = test_cfg if test_cfg is not None else dict(mode='whole')
    mode = test_cfg.get('mode', 'whole')
    if mode not in ('whole', 'slide'):
        raise ValueError(f"`model.test_cfg.mode` must be 'whole' or "
                         f"'slide', got {mode!r}")
    if mode == 'slide':
        for key in ('crop_size', 'stride'):
            if key not in test_cfg:
                raise ValueError(f"`model.test_cfg.{key}` is required "
                                 "with mode='slide'")
    return test_cfg
