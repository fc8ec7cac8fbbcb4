"""Paired seeds: for one seed, the modules that two methods share start from
identical weights whatever else the model contains."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.runner import Runner

from mmmtcp.datasets import generate_scenes
from mmmtcp.models.utils import init_weights_by_name, name_seed
from tool_runs import ROOT, in_process_cfg

BASELINE = osp.join(ROOT, 'configs', 'baseline',
                    'mt_baseline_demo_synthetic.py')
MTCP = osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic_no-lps.py')


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp('scenes') / 'data'
    generate_scenes(str(root), num_train=2, num_val=1, height=48, width=64)
    return root


def _initial_state(config, data_root, work_dir, seed, **model):
    cfg = in_process_cfg(config, data_root, work_dir)
    cfg.randomness = dict(seed=seed)
    cfg.model.update(model)
    runner = Runner.from_cfg(cfg)
    # what the Runner's train() does before the first iteration
    runner._init_model_weights()
    state = {k: v.clone() for k, v in runner.model.state_dict().items()}
    after = torch.rand(4)  # the stream training starts from
    return state, after


def _shared(a, b):
    keys = sorted(set(a) & set(b))
    return keys, [k for k in keys if not torch.equal(a[k], b[k])]


def test_baseline_and_mtcp_share_their_initial_weights(scenes, tmp_path):
    base, base_rand = _initial_state(BASELINE, scenes, tmp_path / 'b', 7)
    mtcp, mtcp_rand = _initial_state(MTCP, scenes, tmp_path / 'm', 7)
    keys, differ = _shared(base, mtcp)
    # backbone, task decoders and output layers: hundreds of tensors
    for part in ('backbone.', 'decode_head.decoders.',
                 'decode_head.outputs.'):
        assert any(k.startswith(part) for k in keys), part
    assert len(keys) > 100
    assert differ == []
    # MT-CP has modules of its own (CFM, SRM, gates, side heads)
    assert len(mtcp) > len(base)
    # training draws start from the same state too
    assert torch.equal(base_rand, mtcp_rand)
    # another seed gives other weights
    other, _ = _initial_state(BASELINE, scenes, tmp_path / 'o', 8)
    assert _shared(base, other)[1]


def test_without_init_by_name_the_larger_head_shifts_the_backbone(
        scenes, tmp_path):
    """The control: mmengine's single stream gives the backbone other
    weights when the head draws more numbers before ``init_weights``."""
    base, _ = _initial_state(BASELINE, scenes, tmp_path / 'b', 7,
                             init_by_name=False)
    mtcp, _ = _initial_state(MTCP, scenes, tmp_path / 'm', 7,
                             init_by_name=False)
    _, differ = _shared(base, mtcp)
    assert any(k.startswith('backbone.') for k in differ)


class _Leaf(BaseModule):

    def __init__(self, extra: int = 0):
        super().__init__(
            init_cfg=dict(type='Normal', layer='Conv2d', std=1.0))
        self.extra = nn.Linear(3, extra) if extra else None
        self.conv = nn.Conv2d(2, 3, 3)


class _Root(BaseModule):

    def __init__(self, extra: int):
        super().__init__()
        # drawn before the shared part in construction order
        self.pre = nn.Linear(5, extra)
        self.shared = _Leaf()
        self.own = _Leaf(extra)


def test_init_weights_by_name_depends_on_names_only():
    torch.manual_seed(0)
    a = _Root(extra=2)
    torch.manual_seed(123)  # another construction stream
    b = _Root(extra=9)
    for m in (a, b):
        init_weights_by_name(m, m.init_weights, base_seed=5)
    for key, value in a.shared.state_dict().items():
        assert torch.equal(value, b.shared.state_dict()[key]), key
    # the Normal(std=1) init_cfg of the leaf was applied (not the default)
    assert a.shared.conv.weight.std() > 0.5
    # other names, other weights
    assert not torch.equal(a.shared.conv.weight, a.own.conv.weight)
    # the global stream ends at a state given by the base seed
    torch.manual_seed(name_seed(5, '#train'))
    expected = torch.rand(3)
    init_weights_by_name(_Root(extra=1), lambda: None, base_seed=5)
    assert torch.equal(torch.rand(3), expected)
    # the patched init_weights are removed again
    assert 'init_weights' not in vars(a.shared)
