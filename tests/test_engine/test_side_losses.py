"""Side (deep-supervision) losses inside or outside the balancer's
projection and task weight (TaskBalanceHook ``side_losses``)."""
import math

import pytest
import torch
from mmengine.model import BaseModel

from mmmtcp.engine import TaskBalanceHook

EPS = 1e-6
LOSSES = dict(
    loss_semseg=2.0, loss_semseg_aux0=0.8, loss_semseg_aux1=0.6,
    loss_depth=0.5, loss_depth_aux0=0.3, loss_contrast=0.1)


class _Model(BaseModel):
    """A model whose only role here is mmengine's own parse_losses."""

    def forward(self, *args, **kwargs):
        raise NotImplementedError


def _parse(side_losses, weights=None, **balancer):
    hook = TaskBalanceHook(
        balancer=dict(type='LossPrioritization', period=1, **balancer)
        if weights is None else dict(type='FixedTaskWeights',
                                     weights=weights),
        side_losses=side_losses)
    hook.install(_Model())
    losses = {k: torch.tensor(v, requires_grad=True)
              for k, v in LOSSES.items()}
    total, log_vars = hook.parse_losses(losses)
    total.backward()
    return hook, total, log_vars, losses


def test_outside_adds_side_losses_raw():
    hook, total, log_vars, losses = _parse('outside')
    assert hook.tasks == ['semseg', 'depth']
    expected = (math.log(2.0 + 1 + EPS) + math.log(0.5 + 1 + EPS) + 0.8 +
                0.6 + 0.3 + 0.1)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    # raw: gradient 1 on every side entry, 1/(L+1) on the main losses
    assert losses['loss_semseg_aux0'].grad.item() == pytest.approx(1.0)
    assert losses['loss_semseg'].grad.item() == pytest.approx(1 / 3.0,
                                                              rel=1e-5)
    # the statistics see the main losses only: after one period (period=1)
    # the weights are total / task of the projected main losses
    means = [math.log(3.0 + EPS), math.log(1.5 + EPS)]
    assert hook.balancer.current_weights().tolist() == pytest.approx(
        [sum(means) / m for m in means], rel=1e-6)
    assert log_vars['loss_semseg_aux0'].item() == pytest.approx(0.8)


def test_inside_projects_task_and_side_together():
    hook, total, _, losses = _parse('inside')
    expected = (math.log(2.0 + 0.8 + 0.6 + 1 + EPS) +
                math.log(0.5 + 0.3 + 1 + EPS) + 0.1)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert losses['loss_semseg_aux0'].grad.item() == pytest.approx(
        1 / 4.4, rel=1e-5)
    means = [math.log(4.4 + EPS), math.log(1.8 + EPS)]
    assert hook.balancer.current_weights().tolist() == pytest.approx(
        [sum(means) / m for m in means], rel=1e-6)


def test_task_weight_applies_to_main_loss_only_when_outside():
    _, total, _, _ = _parse('outside', weights=dict(semseg=3.0))
    assert total.item() == pytest.approx(
        3 * 2.0 + 0.5 + 0.8 + 0.6 + 0.3 + 0.1, rel=1e-6)
    _, total, _, _ = _parse('inside', weights=dict(semseg=3.0))
    assert total.item() == pytest.approx(
        3 * (2.0 + 0.8 + 0.6) + 0.5 + 0.3 + 0.1, rel=1e-6)


def test_bad_side_losses_value():
    with pytest.raises(ValueError, match='side_losses'):
        TaskBalanceHook(balancer=dict(type='FixedTaskWeights'),
                        side_losses='both')
