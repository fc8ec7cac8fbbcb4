"""Consistency checks of a multi-task run, before its first iteration.

Some mistakes in a multi-task config only show late and obscurely: a head
with fewer classes than the data set crashes inside the loss with torch's
``IndexError: Target 21 is out of bounds`` (a device-side assert on GPU);
an evaluator that scores a task the head does not predict fails at the
first validation, hours into training; a head task the data set does not
load fails at the first batch. :class:`MultiTaskCheckHook` compares the
model, the data sets and the evaluators when the run starts and raises a
``ValueError`` naming the config keys to fix.
"""
import logging
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS
from mmmtcp.tasks.task_spec import get_task

def _dataset(loop) -> Optional[object]:
    loader = getattr(loop, 'dataloader', None)
    return getattr(loader, 'dataset', None)


def _metric_tasks(loop) -> List[str]:
    evaluator = getattr(loop, 'evaluator', None)
    tasks: List[str] = []
    for metric in getattr(evaluator, 'metrics', []):
        for task in getattr(metric, 'tasks', None) or []:
            if task not in tasks:
                tasks.append(task)
    return tasks


@HOOKS.register_module()
class MultiTaskCheckHook(Hook):
    """Check that model, data sets and evaluators agree on the tasks and
    the numbers of classes, in ``before_train`` / ``before_val`` /
    ``before_test`` (after the data loaders and evaluators are built,
    before any iteration).

    Checked, for a model with a multi-task head (``decode_head.tasks``):

    - every head task is provided by the training data set
      (``train_dataloader.dataset.tasks``);
    - every task scored by the val/test evaluator is predicted by the head
      (``val_evaluator.tasks`` vs ``model.decode_head.tasks``);
    - for label tasks, ``model.decode_head.num_classes[task]`` is at least
      the number of classes of each data set (the metainfo key named by
      the task's ``classes_key``: ``classes`` / ``human_parts_classes``);
      more classes than the data set has only gives a warning.

    Models without a multi-task head are not checked.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _head(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        head = getattr(model, 'decode_head', None)
        tasks = getattr(head, 'tasks', None)
        if not isinstance(tasks, (list, tuple)) or not all(
                isinstance(t, str) for t in tasks):
            return None
        return head

    def _check_classes(self, head, dataset, loader_key: str) -> None:
        meta = getattr(dataset, 'metainfo', None) or {}
        for task in head.tasks:
            key = get_task(task).classes_key
            if key is None or key not in meta:
                continue
            num_data = len(meta[key])
            num_head = int(head.num_classes.get(task, num_data))
            if num_head < num_data:
                raise ValueError(
                    f'model.decode_head.num_classes[{task!r}] is {num_head}, '
                    f'but {loader_key}.dataset has {num_data} classes '
                    f'(metainfo.{key}); labels >= {num_head} would be out of '
                    f'range in the loss. Set num_classes={task}={num_data}.')
            if num_head > num_data:
                print_log(
                    f'model.decode_head.num_classes[{task!r}] is {num_head} '
                    f'but {loader_key}.dataset has {num_data} classes '
                    f'(metainfo.{key}); the extra outputs are never trained.',
                    logger='current',
                    level=logging.WARNING)

    def _check_eval(self, runner, loop, loop_key: str) -> None:
        head = self._head(runner)
        if head is None or loop is None:
            return
        scored = _metric_tasks(loop)
        missing = [t for t in scored if t not in head.tasks]
        if missing:
            raise ValueError(
                f'{loop_key}_evaluator scores task(s) {missing}, which '
                f'model.decode_head.tasks {list(head.tasks)} does not '
                f'predict; set the evaluator\'s `tasks` to a subset of the '
                'head\'s tasks.')
        dataset = _dataset(loop)
        if dataset is not None:
            self._check_classes(head, dataset, f'{loop_key}_dataloader')

    def before_train(self, runner) -> None:
        head = self._head(runner)
        if head is None:
            return
        dataset = _dataset(runner.train_loop)
        provided = getattr(dataset, 'tasks', None)
        if provided is not None:
            missing = [t for t in head.tasks if t not in provided]
            if missing:
                raise ValueError(
                    f'model.decode_head.tasks has {missing}, which '
                    f'train_dataloader.dataset does not load (its tasks: '
                    f'{list(provided)}); add them to the dataset\'s `tasks` '
                    'or remove them from the head.')
        if dataset is not None:
            self._check_classes(head, dataset, 'train_dataloader')
        # Runner.train() builds the val loop before `before_train`: check
        # it now rather than at the first validation
        self._check_eval(runner, runner.val_loop, 'val')

    def before_val(self, runner) -> None:
        self._check_eval(runner, runner.val_loop, 'val')

    def before_test(self, runner) -> None:
        self._check_eval(runner, runner.test_loop, 'test')
