"""The contrastive regularizer trains from config alone and costs nothing
at inference: same predictions, parameters and FLOPs with it on and off."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmseg.registry import DATASETS, MODELS
from mmmtcp.datasets import generate_scenes
from tool_runs import ROOT, load_tool

CONFIGS = osp.join(ROOT, 'configs')


def _load_get_flops():
    return load_tool('get_flops')


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp('scenes') / 'data'
    generate_scenes(str(root), num_train=4, num_val=2, seed=1)
    return str(root)


@pytest.mark.parametrize('pair', [
    ('mtcp/mtcp_demo_synthetic.py',
     'contrastive/contrastive_mtcp_demo_synthetic.py'),
    ('baseline/mt_baseline_demo_synthetic.py',
     'contrastive/contrastive_mt_baseline_demo_synthetic.py'),
])
def test_inference_is_identical_with_and_without_regularizer(pair, scenes):
    init_default_scope('mmseg')
    cfg_off = Config.fromfile(osp.join(CONFIGS, pair[0]))
    cfg_on = Config.fromfile(osp.join(CONFIGS, pair[1]))
    torch.manual_seed(0)
    model_on = MODELS.build(cfg_on.model)
    model_off = MODELS.build(cfg_off.model)
    state = model_on.state_dict()
    missing = model_off.load_state_dict(state, strict=False)
    assert not missing.missing_keys
    assert missing.unexpected_keys and all(
        k.startswith('regularizers.') for k in missing.unexpected_keys)
    model_on.eval()
    model_off.eval()

    # The projectors are never called at inference.
    calls = []
    for module in model_on.regularizers.modules():
        module.register_forward_hook(lambda *args: calls.append(1))

    dataset_cfg = cfg_on.val_dataloader.dataset.copy()
    dataset_cfg.data_root = scenes
    dataset = DATASETS.build(dataset_cfg)
    batch = pseudo_collate([dataset[0], dataset[1]])
    with torch.no_grad():
        out_on = model_on.test_step(batch)
        out_off = model_off.test_step(batch)
        raw_on = model_on(torch.zeros(1, 3, 64, 96), mode='tensor')
        raw_off = model_off(torch.zeros(1, 3, 64, 96), mode='tensor')
    assert not calls
    for a, b in zip(out_on, out_off):
        for field in ('pred_sem_seg', 'pred_depth_map', 'pred_normal_map',
                      'pred_edge_map'):
            assert torch.equal(a.get(field).data, b.get(field).data), field
    for task in raw_on:
        assert torch.equal(raw_on[task], raw_off[task])

    get_flops = _load_get_flops()
    flops_on = get_flops.complexity(model_on, (64, 96))
    flops_off = get_flops.complexity(model_off, (64, 96))
    assert flops_on['flops'] == flops_off['flops'] > 0
    assert flops_on['params'] == flops_off['params']
    assert sum(p.numel() for p in model_on.parameters()) > \
        flops_on['params']


def test_regularizer_trains_from_config_with_task_balancing(scenes, tmp_path):
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'contrastive',
                 'contrastive_mt_baseline_demo_synthetic.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = scenes
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3,
                         val_interval=100)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 100
    cfg.custom_hooks = [
        dict(type='TaskBalanceHook',
             balancer=dict(type='LossPrioritization', spread=7.5, period=1))
    ]
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    projector = runner.model.regularizers[0].projectors
    before = {k: v.clone() for k, v in projector.state_dict().items()}
    runner.train()
    scalars = runner.message_hub.log_scalars
    for task in ('semseg', 'depth', 'normals', 'edge'):
        assert f'train/loss_contrast_{task}' in scalars
        assert f'train/weight_{task}' in scalars
    after = projector.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before
               if after[k].dtype.is_floating_point)
