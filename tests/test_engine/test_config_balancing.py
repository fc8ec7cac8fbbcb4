"""MT-CP configs balance tasks with the Loss Prioritization Scheme by
default, and switching the strategy is one config line."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmmtcp  # noqa: F401
from mmseg.registry import HOOKS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# every MT-CP config but the explicit no-LPS ablation and the released form
# (whose code computes LPS weights but trains with the plain sum: the demo's
# `_release_` configs and the released architecture's `swin-s-m2f` ones,
# whose summed losses test_swin_m2f_configs.py checks)
MTCP_CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', 'mtcp', '*.py'))
    if not p.endswith('_no-lps.py') and '_release_' not in p
    and 'swin-s-m2f' not in p)


@pytest.mark.parametrize(
    'path', MTCP_CONFIGS, ids=[osp.basename(p) for p in MTCP_CONFIGS])
def test_mtcp_configs_use_lps(path):
    hooks = Config.fromfile(path).custom_hooks
    balance = [h for h in hooks if h['type'] == 'TaskBalanceHook']
    assert len(balance) == 1
    balancer = balance[0]['balancer']
    assert balancer['type'] == 'LossPrioritization'
    expected = 1.6 if 'pascal' in osp.basename(path) else 7.5
    assert balancer['spread'] == expected


@pytest.mark.parametrize('balancer', [
    "dict(type='UncertaintyWeighting')", "dict(type='DynamicWeightAverage')",
    "dict(type='FixedTaskWeights', weights=dict(depth=2.0))"
])
def test_switching_strategy_is_one_line(tmp_path, balancer):
    base = osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py')
    path = tmp_path / 'switched.py'
    path.write_text(f"_base_ = [{base!r}]\n"
                    "custom_hooks = [dict(type='TaskBalanceHook', "
                    f"balancer={balancer})]\n")
    cfg = Config.fromfile(str(path))
    hook = HOOKS.build(cfg.custom_hooks[0])
    assert type(hook.balancer).__name__ == eval(balancer)['type']
    for name in ('baseline/mt_baseline_demo_synthetic.py',
                 'mtcp/mtcp_demo_synthetic_no-lps.py'):
        assert Config.fromfile(osp.join(ROOT, 'configs',
                                        name)).custom_hooks == []
