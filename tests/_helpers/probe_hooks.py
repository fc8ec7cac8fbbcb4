"""Hooks for the tests that run ``tools/train.py`` in subprocesses
(imported through the config's ``custom_imports``): one makes the process
fail the way real ones do, one records what every rank holds, one holds a
run in its training loop."""
import os
import os.path as osp
import signal
import time

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS


@HOOKS.register_module()
class KillDuringSaveHook(Hook):
    """SIGKILL the process in the middle of saving the checkpoint of
    iteration ``iteration`` (after the checkpoint hook has started the save,
    before the file is written)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class DumpRankStateHook(Hook):
    """After training, save this rank's parameters, buffers and task
    balancer state to ``<work_dir>/rank_state.<rank>.pth``."""

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        balancer = None
        for hook in runner.hooks:
            if type(hook).__name__ == 'TaskBalanceHook':
                balancer = hook.balancer.get_state()
        torch.save(
            dict(
                state_dict={
                    k: v.detach().cpu().clone()
                    for k, v in model.state_dict().items()
                },
                balancer=balancer,
                iter=runner.iter),
            osp.join(runner.work_dir, f'rank_state.{get_rank()}.pth'))


@HOOKS.register_module()
class StallWhileFlagHook(Hook):
    """Before every training iteration, create ``<flag>.reached`` and wait
    as long as the file ``flag`` exists: a training run that stays in the
    middle of its loop (data loader workers started) until the test lets
    it go on or stops it."""

    def __init__(self, flag: str) -> None:
        self.flag = flag

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if osp.exists(self.flag):
            open(self.flag + '.reached', 'w').close()
        while osp.exists(self.flag):
            time.sleep(0.05)
