"""TaskBalanceHook in real mmengine Runners: a plain mmseg EncoderDecoder
with an auxiliary head (tasks ``decode`` and ``aux``) trained on png files."""
import glob
import json
import math
import os.path as osp

import pytest
import torch
import torch.multiprocessing as mp

import balancer_testlib as lib

EPS = 1e-6


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return lib.write_dataset(str(tmp_path_factory.mktemp('balancer_data')))


def train(tmp_path, data_root, balancer, max_iters, name='run', **kwargs):
    hook = dict(type='TaskBalanceHook', balancer=balancer)
    hook.update(kwargs.pop('hook_kwargs', {}))
    cfg = lib.runner_cfg(
        str(tmp_path / name), data_root, hook, max_iters,
        record_hook=kwargs.pop('record_hook',
                               dict(type='RecordBalanceHook')),
        **kwargs)
    runner = lib.build_runner(cfg)
    runner.train()
    return runner, lib.find_hook(runner, 'TaskBalanceHook'), lib.find_hook(
        runner, 'RecordBalanceHook')


def weights_of(records):
    return [[r['weight_decode'], r['weight_aux']] for r in records]


def test_lps_in_runner_matches_formulas_and_is_logged(tmp_path, data_root):
    runner, hook, rec = train(
        tmp_path, data_root,
        dict(type='LossPrioritization', spread=7.5, period=2), 6,
        vis_backends=[dict(type='LocalVisBackend')])
    recs = rec.records
    raw = [[r['decode.loss_ce'], r['aux.loss_ce']] for r in recs]
    proj = [[math.log(v + 1 + EPS) for v in row] for row in raw]
    means = [[(proj[2 * p][t] + proj[2 * p + 1][t]) / 2 for t in range(2)]
             for p in range(3)]
    w = weights_of(recs)
    assert w[0] == w[1] == [1.0, 1.0]
    total = sum(means[0])
    assert w[2] == w[3] == pytest.approx([total / m for m in means[0]],
                                         rel=1e-4)
    r = [(means[1][t] / means[0][t]) / (sum(means[1]) / sum(means[0]))
         for t in range(2)]
    mean_r = sum(r) / 2
    assert w[4] == pytest.approx(
        [max(0.0, mean_r + 7.5 * (x - mean_r)) for x in r], rel=1e-4)
    # the logged total is the weighted sum of the projected losses; the
    # weight entries were not summed into it
    for row, ws, rec_ in zip(proj, w, recs):
        assert rec_['loss'] == pytest.approx(
            sum(a * b for a, b in zip(row, ws)), rel=1e-4)
    # the model's own parse_losses is restored after training
    assert 'parse_losses' not in runner.model.__dict__
    # weights reach the text log and the visualization backends
    log_file = glob.glob(osp.join(runner.log_dir, '*.log'))[0]
    text = open(log_file).read()
    assert 'weight_decode:' in text and 'weight_aux:' in text
    scalars = [
        json.loads(line) for line in open(
            osp.join(runner.log_dir, 'vis_data', 'scalars.json'))
    ]
    assert [s['weight_aux'] for s in scalars] == pytest.approx(
        [x[1] for x in w], rel=1e-4)


def test_dwa_fixed_and_uncertainty_in_runner(tmp_path, data_root):
    _, _, rec = train(tmp_path, data_root,
                      dict(type='DynamicWeightAverage', period=2), 6, 'dwa')
    w = weights_of(rec.records)
    assert w[0] == w[3] == [1.0, 1.0]
    assert w[4] != [1.0, 1.0] and sum(w[4]) == pytest.approx(2.0, rel=1e-5)

    _, _, rec = train(tmp_path, data_root,
                      dict(type='FixedTaskWeights', weights=dict(aux=0.25)),
                      2, 'fixed')
    assert weights_of(rec.records) == [[1.0, 0.25], [1.0, 0.25]]
    r = rec.records[0]
    assert r['loss'] == pytest.approx(
        r['decode.loss_ce'] + 0.25 * r['aux.loss_ce'], rel=1e-5)

    runner, hook, rec = train(
        tmp_path, data_root,
        dict(type='UncertaintyWeighting', param_group=dict(lr=0.05)), 4,
        'uw')
    group = runner.optim_wrapper.optimizer.param_groups[-1]
    assert group['params'][0] is hook.balancer.log_vars
    assert group['weight_decay'] == 0.0
    w = weights_of(rec.records)
    assert w[0] == [1.0, 1.0]
    # the logged weights exp(-s_t) follow the learned log-variances
    assert all(a != b for a, b in zip(w[1:], w[:-1]))
    s = hook.balancer.log_vars.detach().tolist()
    assert hook.balancer.logged_weights().tolist() == pytest.approx(
        [math.exp(-x) for x in s])


@pytest.mark.parametrize('balancer', [
    dict(type='LossPrioritization', spread=7.5, period=2),
    dict(type='UncertaintyWeighting', param_group=dict(lr=0.05))
])
def test_resume_gives_identical_history_and_parameters(
        tmp_path, data_root, balancer):
    full_runner, full_hook, full = train(tmp_path, data_root, balancer, 6,
                                         'full')
    first, _, _ = train(tmp_path, data_root, balancer, 3, 'first',
                        ckpt_interval=3)
    ckpt = osp.join(first.work_dir, 'iter_3.pth')
    cfg = lib.runner_cfg(
        str(tmp_path / 'resumed'), data_root,
        dict(type='TaskBalanceHook', balancer=balancer), 6,
        record_hook=dict(type='RecordBalanceHook'), resume=True)
    cfg['load_from'] = ckpt
    resumed = lib.build_runner(cfg)
    resumed.train()
    hook = lib.find_hook(resumed, 'TaskBalanceHook')
    rec = lib.find_hook(resumed, 'RecordBalanceHook')
    assert weights_of(rec.records) == weights_of(full.records[3:])
    assert hook.balancer.get_state() == full_hook.balancer.get_state()
    full_params = dict(full_runner.model.named_parameters())
    for name, value in resumed.model.named_parameters():
        torch.testing.assert_close(value, full_params[name], rtol=0, atol=0)


def test_nan_skip_leaves_parameters_unchanged(tmp_path, data_root):
    runner, hook, rec = train(
        tmp_path, data_root,
        dict(type='LossPrioritization', spread=7.5, period=2), 5,
        model=lib.model_cfg(nan_calls=(2, )),
        record_hook=dict(type='RecordBalanceHook', snapshot_iters=(2, 3)))
    snap = rec.snapshots[2]
    for key, before in snap['before']['model'].items():
        torch.testing.assert_close(
            snap['after']['model'][key], before, rtol=0, atol=0,
            msg=f'{key} changed in the skipped iteration')
    assert snap['after']['optim'].keys() == snap['before']['optim'].keys()
    for idx, state in snap['before']['optim'].items():
        for k, v in state.items():
            torch.testing.assert_close(snap['after']['optim'][idx][k], v)
    # the next iteration trains normally
    nxt = rec.snapshots[3]
    assert any(not torch.equal(nxt['after']['model'][k], v)
               for k, v in nxt['before']['model'].items())
    # statistics ignore the skipped iteration; the weights stay finite
    assert hook.num_skipped == 1
    balancer = hook.balancer
    assert balancer.iters == 5
    expected_mean = math.log(rec.records[3]['aux.loss_ce'] + 1 + EPS)
    assert balancer.period_means[1][1] == pytest.approx(expected_mean,
                                                        rel=1e-5)
    assert all(math.isfinite(x) for r in weights_of(rec.records) for x in r)
    text = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    assert "non-finite loss for task(s) ['aux'] at iteration 3" in text


def test_nan_stop_raises(tmp_path, data_root):
    with pytest.raises(RuntimeError,
                       match=r"task\(s\) \['aux'\] at iteration 2"):
        train(tmp_path, data_root, dict(type='FixedTaskWeights'), 4,
              model=lib.model_cfg(nan_calls=(1, )),
              hook_kwargs=dict(nan_policy='stop'))


def test_gradient_accumulation_counts_iterations(tmp_path, data_root):
    # NaN in the first micro-batch of the second window: that micro-batch
    # adds nothing, the window's step still uses the second micro-batch.
    _, hook, rec = train(
        tmp_path, data_root, dict(type='LossPrioritization', period=2), 4,
        model=lib.model_cfg(nan_calls=(2, )), accumulative_counts=2,
        record_hook=dict(type='RecordBalanceHook', snapshot_iters=(2, 3)))
    assert hook.balancer.iters == 4 and hook.balancer.num_periods == 2
    before = rec.snapshots[2]['before']['model']
    after = rec.snapshots[3]['after']['model']
    assert any(not torch.equal(after[k], v) for k, v in before.items())


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='SkipNonFiniteAmpOptimWrapper needs a GPU')
def test_amp(tmp_path, data_root):
    cfg = lib.runner_cfg(
        str(tmp_path / 'amp'), data_root,
        dict(type='TaskBalanceHook',
             balancer=dict(type='LossPrioritization', period=2)), 4,
        record_hook=dict(type='RecordBalanceHook'),
        model=lib.model_cfg(nan_calls=(2, )))
    cfg['optim_wrapper']['type'] = 'SkipNonFiniteAmpOptimWrapper'
    runner = lib.build_runner(cfg)
    runner.train()
    hook = lib.find_hook(runner, 'TaskBalanceHook')
    assert hook.num_skipped == 1 and hook.balancer.num_periods == 2


def test_ddp_ranks_use_identical_weights(tmp_path, data_root):
    balancers = [
        dict(type='LossPrioritization', spread=7.5, period=2),
        dict(type='UncertaintyWeighting', param_group=dict(lr=0.05))
    ]
    out = str(tmp_path / 'out')
    mp.spawn(
        lib.ddp_worker,
        args=(2, str(tmp_path / 'init'), str(tmp_path / 'work'), data_root,
              balancers, 4, out),
        nprocs=2)
    rank0, rank1 = torch.load(out + '.0'), torch.load(out + '.1')
    for res0, res1 in zip(rank0, rank1):
        # different data per rank ...
        assert [r['decode.loss_ce'] for r in res0['records']] != [
            r['decode.loss_ce'] for r in res1['records']]
        # ... identical weights, balancer state and parameters
        assert weights_of(res0['records']) == weights_of(res1['records'])
        assert res0['state'] == res1['state']
        for name, value in res0['params'].items():
            torch.testing.assert_close(res1['params'][name], value)
    lps_weights = weights_of(rank0[0]['records'])
    assert [r['skipped'] for r in rank0 + rank1] == [0, 0, 0, 0]
    assert lps_weights[0] == [1.0, 1.0] and lps_weights[2] != [1.0, 1.0]
    assert rank0[1]['state']['log_vars'] != [0.0, 0.0]


def test_ddp_a_nan_on_one_rank_skips_the_step_on_every_rank(
        tmp_path, data_root):
    """Whether the loss is finite is reduced over the ranks: rank 0's NaN
    at its third call makes both ranks skip that step, and they stay
    identical."""
    out = str(tmp_path / 'out')
    mp.spawn(
        lib.ddp_worker,
        args=(2, str(tmp_path / 'init'), str(tmp_path / 'work'), data_root,
              [dict(type='LossPrioritization', spread=7.5, period=2)], 4,
              out, (2, )),
        nprocs=2)
    (res0, ), (res1, ) = torch.load(out + '.0'), torch.load(out + '.1')
    assert res0['skipped'] == res1['skipped'] == 1
    assert weights_of(res0['records']) == weights_of(res1['records'])
    assert res0['state'] == res1['state']
    for name, value in res0['params'].items():
        torch.testing.assert_close(res1['params'][name], value, rtol=0,
                                   atol=0)
    # rank 1's own loss was finite at that iteration
    assert math.isfinite(res1['records'][2]['aux.loss_ce'])
    assert not math.isfinite(res0['records'][2]['aux.loss_ce'])


def test_nan_policy_skip_needs_a_skipping_optim_wrapper(tmp_path, data_root):
    with pytest.raises(ValueError, match='SkipNonFiniteOptimWrapper'):
        train(tmp_path, data_root, dict(type='FixedTaskWeights'), 2,
              optim_wrapper_type='OptimWrapper',
              hook_kwargs=dict(nan_policy='skip'))
    # 'auto' with a plain wrapper stops at the first non-finite loss
    with pytest.raises(RuntimeError, match=r"\['aux'\] at iteration 2.*"
                       r"nan_policy='stop'"):
        train(tmp_path, data_root, dict(type='FixedTaskWeights'), 4,
              'auto', optim_wrapper_type='OptimWrapper',
              model=lib.model_cfg(nan_calls=(1, )))
