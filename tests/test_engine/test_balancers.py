"""Unit tests of the task balancers and the loss grouping on synthetic loss
traces, against the formulas written out by hand."""
import math

import pytest
import torch

from mmmtcp.engine import (DynamicWeightAverage, FixedTaskWeights,
                           LossGrouper, LossPrioritization,
                           UncertaintyWeighting)
from mmseg.registry import MODELS


def feed(balancer, trace):
    """Feed per-iteration losses; return the weights used at each one."""
    used = []
    for values in trace:
        used.append(balancer.current_weights().tolist())
        balancer.update(
            None if values is None else torch.tensor(values,
                                                     dtype=torch.float64))
    used.append(balancer.current_weights().tolist())
    return used


def test_lps_formulas_raw_losses():
    lps = LossPrioritization(spread=2.0, period=2, log_scale=False)
    lps.init_tasks(['a', 'b'])
    trace = [[2.0, 1.0], [4.0, 3.0],  # means 3, 2
             [2.0, 2.0], [2.0, 2.0],  # means 2, 2
             [1.0, 2.0], [1.0, 2.0]]  # means 1, 2
    used = feed(lps, trace)
    assert used[0] == used[1] == [1.0, 1.0]
    # first period: w_t = M / m_t
    assert used[2] == pytest.approx([5 / 3, 5 / 2])
    assert used[3] == used[2]
    # later: r_t = (m_t / m_t') / (M / M'), w = mean(r) + s (r - mean(r))
    r = [(2 / 3) / (4 / 5), (2 / 2) / (4 / 5)]
    mean = sum(r) / 2
    assert used[4] == pytest.approx([mean + 2 * (x - mean) for x in r])
    r = [(1 / 2) / (3 / 4), (2 / 2) / (3 / 4)]
    mean = sum(r) / 2
    assert used[6] == pytest.approx([mean + 2 * (x - mean) for x in r])
    assert [h['iter'] for h in lps.history] == [2, 4, 6]
    assert lps.period_means == [[3.0, 2.0], [2.0, 2.0], [1.0, 2.0]]


def test_lps_geometric_spread():
    trace = [[2.0, 1.0], [4.0, 3.0],  # means 3, 2
             [1.0, 2.0], [1.0, 2.0]]  # means 1, 2: task a far ahead
    linear = LossPrioritization(spread=7.5, period=2, log_scale=False)
    geo = LossPrioritization(spread=7.5, period=2, log_scale=False,
                             spread_mode='geometric')
    for lps in (linear, geo):
        lps.init_tasks(['a', 'b'])
    lin_w, geo_w = feed(linear, trace)[-1], feed(geo, trace)[-1]
    r = [(1 / 3) / (3 / 5), (2 / 2) / (3 / 5)]
    mean = sum(r) / 2
    # the linear spread switches task a off, the geometric one keeps it
    assert lin_w == pytest.approx([0.0, mean + 7.5 * (r[1] - mean)])
    assert geo_w == pytest.approx([mean * (x / mean)**7.5 for x in r])
    assert 0 < geo_w[0] < geo_w[1]
    # equal to first order for small deviations
    lin = LossPrioritization(spread=7.5, period=1, log_scale=False)
    geo = LossPrioritization(spread=7.5, period=1, log_scale=False,
                             spread_mode='geometric')
    small = [[1.0, 1.0], [0.999, 1.001]]
    for lps in (lin, geo):
        lps.init_tasks(['a', 'b'])
    assert feed(lin, small)[-1] == pytest.approx(feed(geo, small)[-1],
                                                 rel=1e-3)
    with pytest.raises(ValueError, match='spread_mode'):
        LossPrioritization(spread_mode='exp')


def test_lps_clamp_normalize_and_projection():
    lps = LossPrioritization(spread=4.0, period=1, log_scale=False,
                             normalize=True)
    lps.init_tasks(['a', 'b'])
    used = feed(lps, [[2.0, 2.0], [1.0, 2.0]])
    assert used[1] == pytest.approx([1.0, 1.0])  # M/m = 2, 2 -> sum to T
    r = [(1 / 2) / (3 / 4), (2 / 2) / (3 / 4)]
    w = [max(0.0, 1 + 4 * (x - 1)) for x in r]  # mean(r) = 1
    assert w[0] == 0.0
    assert used[2] == pytest.approx([2 * x / sum(w) for x in w])

    lps = LossPrioritization(period=1, eps=1e-6)
    lps.init_tasks(['a', 'b'])
    losses = torch.tensor([0.5, 2.0], requires_grad=True)
    projected = lps.project(losses)
    assert projected.tolist() == pytest.approx(
        [math.log(0.5 + 1 + 1e-6), math.log(2.0 + 1 + 1e-6)])
    total = lps.combine(projected, projected.detach().double())
    total.backward()
    assert losses.grad.tolist() == pytest.approx(
        [1 / (1.5 + 1e-6), 1 / (3 + 1e-6)])


def test_lps_skipped_iterations_and_non_finite_weights():
    lps = LossPrioritization(spread=1.0, period=2, log_scale=False)
    lps.init_tasks(['a', 'b'])
    used = feed(lps, [[1.0, 3.0], None, [2.0, 2.0], [4.0, 2.0]])
    # a skipped iteration counts towards the period but not the means
    assert used[2] == pytest.approx([4 / 1, 4 / 3])
    assert lps.period_means[0] == [1.0, 3.0]
    # a zero loss mean would give an infinite weight: the weights are kept
    lps = LossPrioritization(period=1, log_scale=False)
    lps.init_tasks(['a', 'b'])
    used = feed(lps, [[0.0, 1.0]])
    assert used[1] == [1.0, 1.0]


def test_dwa_formula():
    dwa = DynamicWeightAverage(temperature=2.0, period=1)
    dwa.init_tasks(['a', 'b', 'c'])
    used = feed(dwa, [[1.0, 2.0, 4.0], [0.5, 1.8, 4.0], [0.4, 0.9, 2.0]])
    # the first two periods use weight 1
    assert used[0] == used[1] == [1.0, 1.0, 1.0]
    for i, (now, prev) in enumerate([([0.5, 1.8, 4.0], [1.0, 2.0, 4.0]),
                                     ([0.4, 0.9, 2.0], [0.5, 1.8, 4.0])]):
        e = [math.exp(n / p / 2.0) for n, p in zip(now, prev)]
        assert used[2 + i] == pytest.approx([3 * x / sum(e) for x in e])
    assert sum(used[-1]) == pytest.approx(3.0)


def test_fixed_weights():
    fixed = MODELS.build(
        dict(type='FixedTaskWeights', weights=dict(depth=2.0), default=0.5))
    fixed.init_tasks(['semseg', 'depth'])
    assert fixed.current_weights().tolist() == [0.5, 2.0]
    losses = torch.tensor([1.0, 3.0])
    assert float(fixed.combine(losses, losses.double())) == 6.5
    bad = FixedTaskWeights(weights=dict(normals=1.0))
    with pytest.raises(ValueError, match='normals'):
        bad.init_tasks(['semseg', 'depth'])
    with pytest.raises(ValueError, match='non-negative'):
        FixedTaskWeights(weights=dict(depth=-1.0))


@pytest.mark.parametrize('paper_factors', [True, False])
def test_uncertainty_weighting_formula(paper_factors):
    uw = UncertaintyWeighting(paper_factors=paper_factors)
    uw.init_tasks(['semseg', 'depth'])
    s = [0.3, -0.2]
    with torch.no_grad():
        uw.log_vars.copy_(torch.tensor(s))
    losses = torch.tensor([1.5, 0.7], requires_grad=True)
    reduced = torch.tensor([1.0, 0.5], dtype=torch.float64)  # rank mean
    total = uw.combine(losses, reduced)
    total.backward()
    c = [1.0, 0.5] if paper_factors else [1.0, 1.0]  # depth: regression
    reg = [0.5, 0.5] if paper_factors else [1.0, 1.0]
    value = sum(c[i] * math.exp(-s[i]) * losses[i].item() + reg[i] * s[i]
                for i in range(2))
    assert float(total.detach()) == pytest.approx(value, rel=1e-6)
    assert losses.grad.tolist() == pytest.approx(
        [c[i] * math.exp(-s[i]) for i in range(2)], rel=1e-6)
    # the log-variance gradient uses the rank-averaged losses
    assert uw.log_vars.grad.tolist() == pytest.approx(
        [-c[i] * math.exp(-s[i]) * reduced[i].item() + reg[i]
         for i in range(2)], rel=1e-6)
    assert uw.logged_weights().tolist() == pytest.approx(
        [c[i] * math.exp(-s[i]) for i in range(2)], rel=1e-6)


def test_state_round_trip():
    lps = LossPrioritization(period=2)
    lps.init_tasks(['a', 'b'])
    feed(lps, [[1.0, 2.0], [2.0, 1.0], [1.0, 1.0]])
    restored = LossPrioritization(period=2)
    restored.set_state(lps.get_state())
    assert restored.get_state() == lps.get_state()
    assert feed(restored, [[0.5, 0.5]]) == feed(lps, [[0.5, 0.5]])

    uw = UncertaintyWeighting()
    uw.init_tasks(['a', 'b'])
    with torch.no_grad():
        uw.log_vars.add_(0.25)
    other = UncertaintyWeighting()
    other.init_tasks(['a', 'b'])
    other.set_state(uw.get_state())
    assert other.log_vars.tolist() == uw.log_vars.tolist()
    wrong = UncertaintyWeighting()
    wrong.init_tasks(['a', 'c'])
    with pytest.raises(ValueError, match='tasks'):
        wrong.set_state(uw.get_state())


def test_loss_grouping():
    grouper = LossGrouper()
    keys = ['loss_semseg', 'loss_semseg_aux0', 'loss_human_parts',
            'loss_human_parts_aux1', 'loss_contrast_semseg', 'acc_semseg']
    tasks, fixed = grouper.group(keys)
    assert tasks == {
        'semseg': ['loss_semseg', 'loss_semseg_aux0'],
        'human_parts': ['loss_human_parts', 'loss_human_parts_aux1']
    }
    assert fixed == ['loss_contrast_semseg']
    tasks, fixed = grouper.group(
        ['decode.loss_ce', 'decode.loss_dice', 'decode.acc_seg',
         'aux_0.loss_ce'])
    assert tasks == {'decode': ['decode.loss_ce', 'decode.loss_dice'],
                     'aux_0': ['aux_0.loss_ce']}
    tasks, _ = LossGrouper(fixed_keys=None).group(['loss_contrast', 'loss_a'])
    assert list(tasks) == ['contrast', 'a']
    explicit = LossGrouper(task_keys=dict(seg=[r'^decode\.', r'^aux\.']))
    assert explicit.group(['decode.loss_ce', 'aux.loss_ce'])[0] == {
        'seg': ['decode.loss_ce', 'aux.loss_ce']}
    with pytest.raises(ValueError, match='extra.loss'):
        explicit.group(['decode.loss_ce', 'extra.loss_x'])
    with pytest.raises(ValueError, match='contains "loss"'):
        LossGrouper(task_keys=dict(my_loss='x'))
    with pytest.raises(ValueError, match="'myloss'"):
        LossGrouper().group(['myloss'])


def test_base_config_snippets_build():
    import glob
    import os.path as osp

    from mmengine.config import Config

    from mmseg.registry import HOOKS
    root = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_',
                    'balancers')
    files = sorted(glob.glob(osp.join(root, '*.py')))
    assert len(files) == 5
    for path in files:
        hook = HOOKS.build(Config.fromfile(path).custom_hooks[0])
        assert type(hook).__name__ == 'TaskBalanceHook'
