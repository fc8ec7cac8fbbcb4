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
from mmmtcp.engine import (DivergenceError, NonFiniteModelError,
                           find_resumable_checkpoint)
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
            balancer=dict(type='LossPrioritization', period=2)))
    kwargs.setdefault('divergence', dict(max_consecutive_skips=3))
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


def test_consecutive_skips_stop_naming_terms_and_checkpoint(
        tmp_path, data_root):
    # the loss is NaN from iteration 5 on: 5, 6 and 7 are skipped (at most
    # 3 in a row), 8 stops the run
    cfg = _cfg(tmp_path, data_root, max_iters=20, keep=2,
               model=lib.model_cfg(nan_calls=range(4, 100)))
    runner = lib.build_runner(cfg)
    with pytest.raises(DivergenceError,
                       match=r"iteration 8: non-finite \['loss', "
                       r"'aux.loss_ce'\] in 4 consecutive iterations \(5-8; "
                       r'max_consecutive_skips=3\).*aux.loss_ce=nan.*'
                       r'iter_4\.pth holds the weights of the step that '
                       r'diverged.*last good checkpoint is .*iter_2\.pth'):
        runner.train()
    # iteration 6 was skipped: no checkpoint was written from it; the one
    # written after step 4, whose weights gave the first NaN, is set aside
    # and resuming takes iteration 2
    assert _assert_checkpoints_finite(cfg['work_dir']) == ['iter_2.pth']
    assert osp.isfile(osp.join(cfg['work_dir'], 'iter_4.pth.diverged'))
    assert find_resumable_checkpoint(cfg['work_dir'], cfg['work_dir']) == \
        osp.join(cfg['work_dir'], 'iter_2.pth')
    assert runner.optim_wrapper.num_skipped == 4


def test_divergence_with_one_kept_checkpoint_says_none_is_good(
        tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root, max_iters=20, keep=1,
               model=lib.model_cfg(nan_calls=(4, )),
               optim_wrapper_type='OptimWrapper', balancer_hook=None)
    with pytest.raises(DivergenceError,
                       match=r'iter_2\.pth, the checkpoint before it, was '
                       r'removed by the rotation.*iter_4\.pth holds the '
                       r'weights.*no good checkpoint'):
        lib.build_runner(cfg).train()
    work = cfg['work_dir']
    assert not glob.glob(osp.join(work, '*.pth'))
    assert osp.isfile(osp.join(work, 'iter_4.pth.diverged'))
    assert not osp.exists(osp.join(work, 'last_checkpoint'))


def test_nan_without_a_skipping_wrapper_stops_at_once(tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root, max_iters=20, keep=2,
               model=lib.model_cfg(nan_calls=(4, )),
               optim_wrapper_type='OptimWrapper',
               balancer_hook=None)
    runner = lib.build_runner(cfg)
    with pytest.raises(DivergenceError,
                       match=r'iteration 5: non-finite .*OptimWrapper\) has '
                       r'applied the step'):
        runner.train()
    assert _assert_checkpoints_finite(cfg['work_dir']) == ['iter_2.pth']


def test_finite_blowup_stops_before_its_checkpoint(tmp_path, data_root):
    """A learning rate far too high (#23, case 1): the loss grows by
    orders of magnitude while staying finite; the run stops at the first
    iteration above 20x the running median, and no checkpoint is written
    from it (checkpoints every iteration here)."""
    cfg = _cfg(tmp_path, data_root, max_iters=20,
               optimizer=dict(type='AdamW', lr=2e3, weight_decay=0.05))
    cfg['default_hooks']['checkpoint'].update(interval=1, max_keep_ckpts=20)
    runner = lib.build_runner(cfg)
    with pytest.raises(DivergenceError) as info:
        runner.train()
    message = str(info.value)
    stopped = runner.iter + 1
    assert f'diverged at iteration {stopped}:' in message
    assert 'x its running median' in message
    assert 'decode.loss_ce=' in message and 'aux.loss_ce=' in message
    # the checkpoint of the step that blew up is set aside, the one before
    # it is named as the last good one
    work = cfg['work_dir']
    assert stopped >= 2
    assert osp.isfile(osp.join(work, f'iter_{stopped - 1}.pth.diverged'))
    assert f'iter_{stopped - 1}.pth holds the weights' in message
    good = sorted(osp.basename(p) for p in glob.glob(osp.join(work, '*.pth')))
    assert good == sorted(f'iter_{i}.pth' for i in range(1, stopped - 1))
    if good:
        assert _assert_checkpoints_finite(work) == good
        assert f'last good checkpoint is {osp.join(work, good[-1])}' in \
            message or f'iter_{stopped - 2}.pth' in message
    else:
        assert 'no good checkpoint' in message


def test_divergence_hook_arguments_are_checked():
    from mmmtcp.engine import DivergenceHook
    with pytest.raises(ValueError, match='`factor` must be a number > 1'):
        DivergenceHook(factor=1)
    with pytest.raises(ValueError, match='`max_consecutive_skips`'):
        DivergenceHook(max_consecutive_skips=-1)
    with pytest.raises(ValueError, match='must not exceed `window`'):
        DivergenceHook(window=3, min_history=4)


def test_an_isolated_skip_does_not_stop(tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root, max_iters=8,
               model=lib.model_cfg(nan_calls=(1, 3, 5)))
    runner = lib.build_runner(cfg)
    runner.train()
    assert lib.find_hook(runner, 'TaskBalanceHook').num_skipped == 3
    assert runner.optim_wrapper.num_skipped == 3


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


# ----------------------------------------------------------------------
# best checkpoints, files of earlier runs, damaged files
def _trained_runner(tmp_path, data_root, **checkpoint):
    cfg = _cfg(tmp_path, data_root, max_iters=2)
    cfg['default_hooks']['checkpoint'].update(checkpoint)
    runner = lib.build_runner(cfg)
    runner.train()
    return runner, lib.find_hook(runner, 'SafeCheckpointHook')


class _Killed(BaseException):
    """Stands for a SIGKILL at the injection point: nothing after it runs
    (a BaseException, so no ``except Exception`` cleans up)."""


def killed(*args, **kwargs):
    """Injected in place of a step: the process is "killed" there."""
    raise _Killed()


@pytest.mark.parametrize('indicators', [['acc'], ['acc', 'miou']])
def test_a_kill_during_a_best_save_leaves_a_best_file(
        tmp_path, data_root, indicators, monkeypatch):
    runner, hook = _trained_runner(
        tmp_path, data_root, save_best=indicators, rule='greater')
    work = cfg_dir = runner.work_dir  # noqa: F841

    def best_files():
        return sorted(
            osp.basename(p) for p in glob.glob(osp.join(work, 'best_*.pth')))

    metrics = {k: 1.0 for k in indicators}
    hook._save_best_checkpoint(runner, metrics)
    first = best_files()
    assert first == sorted(f'best_{k}_iter_2.pth' for k in indicators)

    # killed before the new best is written: mmengine has already removed
    # the old one at that point; here it is still there
    runner.train_loop._iter += 1
    metrics = {k: 2.0 for k in indicators}
    with monkeypatch.context() as m:
        m.setattr(runner, 'save_checkpoint', killed)
        with pytest.raises(_Killed):
            hook._save_best_checkpoint(runner, metrics)
    assert best_files() == first

    # killed after the new best is complete, before the old is removed:
    # both exist
    runner.train_loop._iter += 1
    metrics = {k: 2.5 for k in indicators}
    with monkeypatch.context() as m:
        m.setattr(hook, '_remove_replaced_best', killed)
        with pytest.raises(_Killed):
            hook._save_best_checkpoint(runner, metrics)
    assert set(first) < set(best_files())

    # a complete save replaces the old best files
    runner.train_loop._iter += 1
    metrics = {k: 3.0 for k in indicators}
    hook._save_best_checkpoint(runner, metrics)
    files = set(best_files())
    assert {f'best_{k}_iter_5.pth' for k in indicators} <= files
    assert not {f'best_{k}_iter_4.pth' for k in indicators} & files
    for name in files:
        safe_torch_load(osp.join(cfg_dir, name))


def test_a_checkpoint_of_an_earlier_run_is_never_overwritten(
        tmp_path, data_root):
    """#23, case 2: a run started in a work dir that held a good iter_2.pth
    overwrote it. Now the earlier file is kept under another name."""
    work = tmp_path / 'work'
    work.mkdir()
    earlier = {'meta': {'note': 'earlier run'}, 'state_dict': {}}
    torch.save(earlier, str(work / 'iter_2.pth'))
    runner, _ = _trained_runner(tmp_path, data_root)
    kept = glob.glob(str(work / 'iter_2.pth.kept-*'))
    assert len(kept) == 1
    assert safe_torch_load(kept[0])['meta']['note'] == 'earlier run'
    # the run's own checkpoint is in place, and resuming ignores the kept
    # file
    assert 'state_dict' in safe_torch_load(str(work / 'iter_2.pth'))
    assert safe_torch_load(str(work / 'iter_2.pth'))['state_dict']
    assert find_resumable_checkpoint(str(work), str(work)) == str(
        work / 'iter_2.pth')
    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    assert 'was not written by this run' in log and kept[0] in log


def test_resume_skips_a_checkpoint_damaged_in_the_middle(tmp_path):
    folder = tmp_path / 'work'
    folder.mkdir()
    state = dict(state_dict={'w': torch.arange(200000, dtype=torch.float32)})
    for step in (4, 6):
        torch.save(state, str(folder / f'iter_{step}.pth'))
    path = folder / 'iter_6.pth'
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # zeros over tensor data
    path.write_bytes(bytes(data))
    (folder / 'last_checkpoint').write_text(str(path))
    assert find_resumable_checkpoint(str(folder), str(folder)) == str(
        folder / 'iter_4.pth')
