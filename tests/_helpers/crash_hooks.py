"""Hooks that make a training process fail the way real ones do, for the
tests that run ``tools/train.py`` in a subprocess (imported through the
config's ``custom_imports``)."""
import os
import signal

from mmengine.hooks import Hook

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
