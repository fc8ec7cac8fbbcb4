"""Grouping the entries of a model's loss dict into tasks.

Task balancers weight *tasks*, while models return a flat dict of loss
entries. :class:`LossGrouper` maps one to the other:

- ``loss_<task>`` is the main loss of ``<task>`` and ``loss_<task>_aux<i>``
  (any suffix starting with ``_aux``) are its side outputs; they belong to
  the same task (the convention of mmmtcp's ``MultiTaskSegmentor``).
- ``<prefix>.<name>`` entries are grouped by ``<prefix>``: a plain mmseg
  ``EncoderDecoder`` returns ``decode.loss_ce`` and ``aux.loss_ce`` (or
  ``aux_0.loss_ce``, ...), which become the tasks ``decode`` and ``aux``.
- Entries matching ``fixed_keys`` (by default the contrastive
  regularization ``loss_contrast*``) keep their own weight and are neither
  weighted nor part of the statistics.
- Entries whose name does not contain ``'loss'`` (e.g. ``decode.acc_seg``)
  are only logged, exactly as :meth:`BaseModel.parse_losses` treats them.

An explicit ``task_keys=dict(task=pattern_or_patterns)`` replaces the
automatic rule; patterns are regular expressions matched with
:func:`re.search`, and every loss entry must then match a task or
``fixed_keys``.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

PatternLike = Union[str, Sequence[str]]


def _compile(patterns: PatternLike, where: str) -> List['re.Pattern']:
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f'{where} must be a regular expression string or '
                            f'a list of them, got {pattern!r}')
        try:
            compiled.append(re.compile(pattern))
        except re.error as e:
            raise ValueError(
                f'{where} has an invalid regular expression {pattern!r}: '
                f'{e}') from e
    return compiled


def check_task_name(task: str, where: str = 'task_keys') -> str:
    """Check that a task name can be used in log keys.

    ``BaseModel.parse_losses`` and mmengine's logging treat every key
    containing ``'loss'`` as a loss term, so per-task keys such as
    ``weight_<task>`` must not contain it.
    """
    if not isinstance(task, str) or not task:
        raise ValueError(f'{where}: task names must be non-empty strings, '
                         f'got {task!r}')
    if 'loss' in task:
        raise ValueError(
            f'{where}: task name {task!r} contains "loss"; the logged '
            f'weight key "weight_{task}" would be summed into the total '
            'loss by parse_losses. Rename the task.')
    return task


class LossGrouper:
    """Assign the entries of a loss dict to tasks.

    Args:
        task_keys (dict[str, str | list[str]], optional): Task name to one
            or more regular expressions selecting its loss entries. A key is
            assigned to the first task (in dict order) with a matching
            pattern. ``None`` uses the automatic rule of this module.
        fixed_keys (str | list[str], optional): Regular expression(s) of
            loss entries that are added to the total with weight 1 and
            excluded from balancing. Defaults to ``r'(^|\\.)loss_contrast'``.
    """

    def __init__(self,
                 task_keys: Optional[Dict[str, PatternLike]] = None,
                 fixed_keys: Optional[PatternLike] = r'(^|\.)loss_contrast'):
        self.task_patterns: Optional[Dict[str, List['re.Pattern']]] = None
        if task_keys is not None:
            if not isinstance(task_keys, dict) or not task_keys:
                raise TypeError('`task_keys` must be a non-empty dict mapping '
                                'task names to regular expressions, got '
                                f'{task_keys!r}')
            self.task_patterns = {
                check_task_name(task):
                _compile(patterns, f'task_keys[{task!r}]')
                for task, patterns in task_keys.items()
            }
        self.fixed_patterns = [] if fixed_keys is None else _compile(
            fixed_keys, '`fixed_keys`')
        self._cache: Dict[Tuple[str, ...], Tuple[Dict[str, List[str]],
                                                 List[str]]] = {}

    @property
    def declared_tasks(self) -> Optional[List[str]]:
        """Task names given explicitly by ``task_keys``, else ``None``."""
        if self.task_patterns is None:
            return None
        return list(self.task_patterns)

    @staticmethod
    def auto_task(key: str) -> str:
        """Task of a loss key under the automatic rule.

        Args:
            key (str): A loss dict key containing ``'loss'``.

        Returns:
            str: The task name.
        """
        if '.' in key:
            task = key.split('.', 1)[0]
        elif key.startswith('loss_') and len(key) > len('loss_'):
            task = key[len('loss_'):].split('_aux', 1)[0]
        else:
            raise ValueError(
                f'Cannot infer the task of loss entry {key!r}: expected '
                '"loss_<task>", "loss_<task>_aux<i>" or "<task>.<name>". Set '
                '`task_keys` of TaskBalanceHook to map it to a task, or '
                '`fixed_keys` to leave it unbalanced.')
        return check_task_name(task, f'task of loss entry {key!r}')

    def _is_fixed(self, key: str) -> bool:
        return any(p.search(key) for p in self.fixed_patterns)

    def group(self, keys: Sequence[str]
              ) -> Tuple[Dict[str, List[str]], List[str]]:
        """Group loss keys into tasks.

        Args:
            keys (Sequence[str]): Keys of the loss dict, in order.

        Returns:
            tuple[dict[str, list[str]], list[str]]: Task name to its loss
            keys (tasks in order of first appearance, or of ``task_keys``),
            and the keys kept at fixed weight. Keys without ``'loss'`` are
            in neither.
        """
        cache_key = tuple(keys)
        if cache_key in self._cache:
            return self._cache[cache_key]
        tasks: Dict[str, List[str]] = {}
        if self.task_patterns is not None:
            tasks = {task: [] for task in self.task_patterns}
        fixed: List[str] = []
        for key in keys:
            if 'loss' not in key:
                continue
            if self._is_fixed(key):
                fixed.append(key)
                continue
            if self.task_patterns is None:
                tasks.setdefault(self.auto_task(key), []).append(key)
                continue
            for task, patterns in self.task_patterns.items():
                if any(p.search(key) for p in patterns):
                    tasks[task].append(key)
                    break
            else:
                patterns = {
                    t: [p.pattern for p in ps]
                    for t, ps in self.task_patterns.items()
                }
                raise ValueError(
                    f'Loss entry {key!r} matches no task of `task_keys` '
                    f'({patterns}) and not `fixed_keys`; add it to one of '
                    'them.')
        empty = [task for task, task_keys in tasks.items() if not task_keys]
        if empty:
            raise ValueError(
                f'Task(s) {empty} of `task_keys` match no loss entry; the '
                f'model returned {list(keys)}.')
        if not tasks:
            raise ValueError('The loss dict has no entry to balance: '
                             f'{list(keys)}')
        self._cache[cache_key] = (tasks, fixed)
        return tasks, fixed
