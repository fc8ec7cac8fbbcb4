"""SkipNonFiniteOptimWrapper on its own, in a real Runner: a plain mmseg
EncoderDecoder (no balancing hook) whose loss is NaN at one iteration."""
import pytest
import torch
from mmengine.optim import OptimWrapperDict

import balancer_testlib as lib
from mmmtcp.engine import SkipNonFiniteOptimWrapper, is_skipping


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return lib.write_dataset(str(tmp_path_factory.mktemp('skip_data')))


def test_a_nan_step_leaves_model_buffers_and_optimizer_unchanged(
        tmp_path, data_root):
    cfg = lib.runner_cfg(
        str(tmp_path / 'work'), data_root, None, 5,
        record_hook=dict(type='RecordBalanceHook', snapshot_iters=(2, 3)),
        model=lib.model_cfg(nan_calls=(2, ), nan_key='decode.loss_ce'))
    runner = lib.build_runner(cfg)
    runner.train()
    wrapper = runner.optim_wrapper
    assert isinstance(wrapper, SkipNonFiniteOptimWrapper)
    assert wrapper.num_skipped == 1 and wrapper.consecutive_skips == 0
    rec = lib.find_hook(runner, 'RecordBalanceHook')
    snap = rec.snapshots[2]
    # parameters and BatchNorm running statistics (which the forward pass
    # of the bad batch updated) are back to their values before it
    assert any('running_mean' in k for k in snap['before']['model'])
    for key, before in snap['before']['model'].items():
        torch.testing.assert_close(snap['after']['model'][key], before,
                                   rtol=0, atol=0, msg=key)
    for idx, state in snap['before']['optim'].items():
        for k, v in state.items():
            torch.testing.assert_close(snap['after']['optim'][idx][k], v,
                                       rtol=0, atol=0)
    nxt = rec.snapshots[3]
    assert any(not torch.equal(nxt['after']['model'][k], v)
               for k, v in nxt['before']['model'].items())


def test_restore_buffers_false_keeps_the_bad_batch_statistics(
        tmp_path, data_root):
    cfg = lib.runner_cfg(
        str(tmp_path / 'work'), data_root, None, 3,
        record_hook=dict(type='RecordBalanceHook', snapshot_iters=(1, )),
        model=lib.model_cfg(nan_calls=(1, ), nan_key='decode.loss_ce'))
    cfg['optim_wrapper']['restore_buffers'] = False
    runner = lib.build_runner(cfg)
    runner.train()
    snap = lib.find_hook(runner, 'RecordBalanceHook').snapshots[1]
    changed = [
        k for k, v in snap['before']['model'].items()
        if not torch.equal(snap['after']['model'][k], v)
    ]
    assert changed and all('running' in k or 'num_batches' in k
                           for k in changed), changed


def test_is_skipping():
    model = torch.nn.Linear(2, 2)
    skip = SkipNonFiniteOptimWrapper(torch.optim.SGD(model.parameters(), 0.1))
    assert is_skipping(skip)
    assert is_skipping(OptimWrapperDict(a=skip))
    from mmengine.optim import OptimWrapper
    plain = OptimWrapper(torch.optim.SGD(model.parameters(), 0.1))
    assert not is_skipping(plain)
    assert not is_skipping(OptimWrapperDict(a=skip, b=plain))
    with pytest.raises(ValueError, match='restore_buffers'):
        SkipNonFiniteOptimWrapper(
            torch.optim.SGD(model.parameters(), 0.1), restore_buffers=1)


def test_finite_training_is_bit_identical_to_mmengines_wrapper(
        tmp_path, data_root):
    """With finite losses the wrapper changes nothing: same parameters and
    buffers as mmengine's OptimWrapper after a few steps."""
    states = []
    for wrapper in ('OptimWrapper', 'SkipNonFiniteOptimWrapper'):
        cfg = lib.runner_cfg(
            str(tmp_path / wrapper), data_root,
            dict(type='TaskBalanceHook',
                 balancer=dict(type='LossPrioritization', period=2)), 4,
            optim_wrapper_type=wrapper, divergence=dict())
        runner = lib.build_runner(cfg)
        runner.train()
        states.append({k: v.clone()
                       for k, v in runner.model.state_dict().items()})
    for key, value in states[0].items():
        torch.testing.assert_close(states[1][key], value, rtol=0, atol=0,
                                   msg=key)
