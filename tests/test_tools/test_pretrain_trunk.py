"""tools/pretrain_trunk.py: trains once, keeps the trunk, caches it by config,
and a study's model starts from it through ``load_from``."""
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from mmmtcp.datasets import generate_scenes
from mmmtcp.utils import safe_torch_load
from tool_runs import ROOT, in_process_cfg, load_tool, run

CONFIG = osp.join(ROOT, 'configs', 'pretrain', 'seg_resnet_tiny_synthetic.py')
TINY = [
    '--num-train', '2', '--num-val', '1', '--height', '48', '--width', '64'
]
OPTIONS = [
    'max_iters=2', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'param_scheduler.0.end=2', 'default_hooks.checkpoint.interval=2',
    'train_dataloader.batch_size=1'
] + [
    f'{loader}.{key}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key in ('num_workers=0', 'persistent_workers=False')
]


@pytest.fixture(scope='module')
def trunk(tmp_path_factory):
    cache = tmp_path_factory.mktemp('cache')
    result = run(['tools/pretrain_trunk.py', CONFIG, '--cache-dir',
                  str(cache), *TINY, '--cfg-options', *OPTIONS], cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    path = result.stdout.strip().splitlines()[-1]
    return cache, path, result.stdout


def test_trunk_holds_the_backbone_only(trunk):
    cache, path, out = trunk
    assert osp.dirname(osp.dirname(path)) == str(cache)
    assert osp.basename(path) == 'trunk.pth'
    assert 'wrote' in out
    saved = torch.load(path, weights_only=True)
    state, meta = saved['state_dict'], saved['meta']
    assert state and all(k.startswith('backbone.') for k in state)
    assert meta['scene_seed'] == 1000 and meta['prefixes'] == [
        'backbone.', 'neck.'
    ]
    # the pretraining scenes are written once next to the trunks, with
    # another generator seed than the studies' (0)
    assert osp.isdir(osp.join(str(cache), 'scenes-seed1000-48x64-2+1'))
    # no training folder is left behind
    assert not [p for p in osp.os.listdir(str(cache)) if '.tmp-' in p]


def test_second_call_reuses_the_cached_trunk(trunk):
    cache, path, _ = trunk
    mtime = osp.getmtime(path)
    result = run(['tools/pretrain_trunk.py', CONFIG, '--cache-dir',
                  str(cache), *TINY, '--cfg-options', *OPTIONS], cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:]
    assert 'cached' in result.stdout
    assert 'Iter(train)' not in result.stdout
    assert result.stdout.strip().splitlines()[-1] == path
    assert osp.getmtime(path) == mtime
    # another config (here: another seed) is another trunk
    tool = load_tool('pretrain_trunk')
    args = tool.parse_args([CONFIG, '--cache-dir', str(cache), *TINY,
                            '--cfg-options', *OPTIONS])
    other = tool.parse_args([CONFIG, '--cache-dir', str(cache), *TINY,
                             '--seed', '1', '--cfg-options', *OPTIONS])
    cfg = tool.resolved_config(CONFIG, args.cfg_options)
    assert tool.trunk_key(cfg, args) == osp.basename(
        osp.dirname(path)).rsplit('-', 1)[1]
    assert tool.trunk_key(cfg, other) != tool.trunk_key(cfg, args)


def test_a_study_model_starts_from_the_trunk(trunk, tmp_path):
    _, path, _ = trunk
    data = tmp_path / 'data'
    generate_scenes(str(data), num_train=2, num_val=1, height=48, width=64)
    cfg = in_process_cfg(
        osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic_no-lps.py'),
        data, tmp_path / 'work')
    cfg.load_from = path
    cfg.train_cfg.max_iters = 1
    runner = Runner.from_cfg(cfg)
    runner._init_model_weights()
    runner.load_or_resume()
    state = runner.model.state_dict()
    trunk_state = safe_torch_load(path)['state_dict']
    for key, value in trunk_state.items():
        assert torch.equal(state[key], value), key


def test_extract_trunk_names_the_prefixes(tmp_path):
    tool = load_tool('pretrain_trunk')
    ckpt = tmp_path / 'c.pth'
    torch.save(dict(state_dict={'decode_head.w': torch.ones(1)}), ckpt)
    with pytest.raises(ValueError, match='trunk_prefixes'):
        tool.extract_trunk(str(ckpt), ('backbone.', ))
