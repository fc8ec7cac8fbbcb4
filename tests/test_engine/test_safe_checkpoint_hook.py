"""SafeCheckpointHook and divergence handling in real Runners: a diverged
run stops with an error naming the last good checkpoint, which is never
deleted; no checkpoint holds inf/NaN; a process killed while saving leaves
a checkpoint that ``tools/train.py --resume`` continues from; a truncated
newest checkpoint is skipped."""
import glob
import os.path as osp
import signal

import pytest
import torch
from mmengine.hooks import Hook

import balancer_testlib as lib
from mmmtcp.datasets import generate_scenes
from mmmtcp.engine import NonFiniteModelError, find_resumable_checkpoint
from mmmtcp.utils import safe_torch_load
from mmseg.registry import HOOKS
from tool_runs import ROOT, run, write_demo_config


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return lib.write_dataset(str(tmp_path_factory.mktemp('ckpt_data')))


@HOOKS.register_module(force=True)
class PoisonBufferHook(Hook):
    """Set the first BatchNorm ``running_var`` to inf after ``iteration``
    (1-based), as a diverged update would."""

    priority = 'HIGH'  # before the checkpoint hook of the same iteration

    def __init__(self, iteration):
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.iteration:
            model = runner.model
            for name, buf in model.named_buffers():
                if name.endswith('running_var'):
                    buf.fill_(float('inf'))
                    return


def _cfg(tmp_path, data_root, max_iters, keep=1, **kwargs):
    balancer = kwargs.pop(
        'balancer_hook',
        dict(
            type='TaskBalanceHook',
            balancer=dict(type='LossPrioritization', period=2),
            max_consecutive_skips=3))
    cfg = lib.runner_cfg(
        str(tmp_path / 'work'), data_root, balancer, max_iters,
        ckpt_interval=2, **kwargs)
    cfg['default_hooks']['checkpoint'] = dict(
        type='SafeCheckpointHook', by_epoch=False, interval=2,
        max_keep_ckpts=keep, save_last=False)
    return cfg


def _assert_checkpoints_finite(work_dir):
    files = glob.glob(osp.join(work_dir, '*.pth'))
    assert files, 'no checkpoint left'
    for path in files:
        state = safe_torch_load(path)['state_dict']
        for key, value in state.items():
            if value.is_floating_point():
                assert torch.isfinite(value).all(), (path, key)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert osp.isfile(f.read().strip())
    return sorted(osp.basename(f) for f in files)


def test_lr_blowup_stops_and_keeps_the_last_finite_checkpoint(
        tmp_path, data_root):
    # the learning rate is multiplied by 1e9 from iteration 5 on
    cfg = _cfg(tmp_path, data_root, max_iters=40)
    cfg['param_scheduler'] = dict(
        type='MultiStepLR', milestones=[4], gamma=1e9, by_epoch=False)
    runner = lib.build_runner(cfg)
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    assert runner.iter < 20, 'the diverged run did not stop'
    # one finite checkpoint is kept, written after the blow-up started or
    # before it, and the error names it
    kept = _assert_checkpoints_finite(cfg['work_dir'])
    assert len(kept) == 1 and kept[0] in message, message
    assert int(kept[0][5:-4]) >= 4


def test_nonfinite_buffer_is_never_saved(tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root, max_iters=8,
               record_hook=dict(type='PoisonBufferHook', iteration=3))
    runner = lib.build_runner(cfg)
    with pytest.raises(NonFiniteModelError,
                       match=r'running_var.*iter_4\.pth is not written.*'
                       r'last finite checkpoint is .*iter_2\.pth'):
        runner.train()
    assert _assert_checkpoints_finite(cfg['work_dir']) == ['iter_2.pth']


def test_consecutive_skips_stop_naming_task_and_checkpoint(
        tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root, max_iters=20,
               model=lib.model_cfg(nan_calls=range(4, 100)))
    runner = lib.build_runner(cfg)
    with pytest.raises(RuntimeError,
                       match=r"3 consecutive iterations \(5-7\).*\['aux'\]"
                       r'.*iter_6\.pth'):
        runner.train()
    # iteration 6 was skipped: its checkpoint holds the weights of 4
    assert _assert_checkpoints_finite(cfg['work_dir']) == ['iter_6.pth']


def test_an_isolated_skip_does_not_stop(tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root, max_iters=8,
               model=lib.model_cfg(nan_calls=(1, 3, 5)))
    runner = lib.build_runner(cfg)
    runner.train()
    assert lib.find_hook(runner, 'TaskBalanceHook').num_skipped == 3


def test_two_balance_hooks_are_refused(tmp_path, data_root):
    hook = dict(type='TaskBalanceHook',
                balancer=dict(type='FixedTaskWeights'))
    cfg = _cfg(tmp_path, data_root, max_iters=2, balancer_hook=hook,
               record_hook=dict(hook))
    with pytest.raises(ValueError, match='Two TaskBalanceHooks'):
        lib.build_runner(cfg).train()


def test_resume_skips_missing_and_broken_checkpoints(tmp_path):
    folder = tmp_path / 'work'
    folder.mkdir()
    for step in (2, 4, 6):
        torch.save(dict(state_dict={}), str(folder / f'iter_{step}.pth'))
    data = (folder / 'iter_6.pth').read_bytes()
    (folder / 'iter_6.pth').write_bytes(data[:len(data) // 2])
    (folder / 'last_checkpoint').write_text(str(folder / 'iter_8.pth'))
    found = find_resumable_checkpoint(str(folder), str(folder))
    assert found == str(folder / 'iter_4.pth')
    assert find_resumable_checkpoint(str(tmp_path), str(tmp_path)) is None


# ----------------------------------------------------------------------
# a real training process killed while saving
def _run_train(cfg, work_dir, cwd, *extra):
    return run([
        osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir', work_dir,
        *extra
    ], cwd=cwd)


def test_kill_during_save_then_resume(tmp_path):
    data_root = tmp_path / 'scenes'
    generate_scenes(str(data_root), num_train=4, num_val=1, height=120,
                    width=160, seed=0)
    cfg = write_demo_config(
        str(tmp_path / 'cfg.py'), data_root, """
train_cfg = dict(max_iters=6, val_interval=1000)
param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0,
                        end=10, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=1))
""")
    kill_cfg = tmp_path / 'cfg_kill.py'
    kill_cfg.write_text(f"""
_base_ = [{cfg!r}]
custom_hooks = _base_.custom_hooks + [
    dict(type='KillDuringSaveHook', iteration=4)]
""")
    work_dir = str(tmp_path / 'work')
    # killed inside the save of iteration 4 (the only kept checkpoint is 2)
    proc = _run_train(str(kill_cfg), work_dir, str(tmp_path))
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-3000:]
    assert _assert_checkpoints_finite(work_dir) == ['iter_2.pth']

    # resume continues from iteration 2 and keeps two checkpoints now
    proc = _run_train(cfg, work_dir, str(tmp_path), '--resume',
                      '--cfg-options',
                      'default_hooks.checkpoint.max_keep_ckpts=2')
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'resumed epoch: 0, iter: 2' in proc.stdout
    assert _assert_checkpoints_finite(work_dir) == [
        'iter_4.pth', 'iter_6.pth'
    ]

    # the newest checkpoint is cut off: resume falls back to iteration 4
    newest = osp.join(work_dir, 'iter_6.pth')
    with open(newest, 'rb') as f:
        data = f.read()
    with open(newest, 'wb') as f:
        f.write(data[:len(data) // 3])
    proc = _run_train(cfg, work_dir, str(tmp_path), '--resume',
                      '--cfg-options', 'train_cfg.max_iters=8',
                      'default_hooks.checkpoint.max_keep_ckpts=2')
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'skipping broken checkpoint' in proc.stdout
    assert 'iter_6.pth' in proc.stdout
    assert 'resumed epoch: 0, iter: 4' in proc.stdout
    assert _assert_checkpoints_finite(work_dir) == [
        'iter_6.pth', 'iter_8.pth'
    ]
