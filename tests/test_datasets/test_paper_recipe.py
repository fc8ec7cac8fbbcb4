"""The paper-recipe configs (the MT-CP reference's training recipe) and
their data pipelines on fixture files in the real formats."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs', name))


@pytest.mark.parametrize('name,spread', [('mtcp/mtcp_vitl_nyud.py', 7.5),
                                         ('mtcp/mtcp_vitl_pascal.py', 1.6)])
def test_reference_recipe(name, spread):
    cfg = _cfg(name)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 5e-5, 1e-4)
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs == 100
    sched = cfg.param_scheduler[0]
    assert (sched.type, sched.by_epoch, sched.end, sched.power) == (
        'PolyLR', True, 100, 0.9)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    balancer = cfg.custom_hooks[0].balancer
    assert (balancer.type, balancer.spread, balancer.period) == (
        'LossPrioritization', spread, None)
    assert cfg.log_processor.by_epoch


def test_invpt_variants_keep_the_invpt_recipe():
    for name in ('mtcp/mtcp_vitl_nyud_invpt-recipe.py',
                 'mtcp/mtcp_vitl_pascal_invpt-recipe.py'):
        cfg = _cfg(name)
        assert cfg.optim_wrapper.optimizer.lr == 2e-5
        assert cfg.optim_wrapper.optimizer.weight_decay == 1e-6
        assert cfg.train_cfg.type == 'IterBasedTrainLoop'
        assert cfg.train_cfg.max_iters == 40000


def test_nyud_reference_pipeline_feeds_full_480x640(nyud_root):
    cfg = _cfg('mtcp/mtcp_vitl_nyud.py')
    assert tuple(cfg.model.data_preprocessor.size) == (480, 640)
    ds = cfg.train_dataloader.dataset
    ds.data_root = nyud_root[0]
    dataset = DATASETS.build(ds)
    np.random.seed(0)
    types = [t['type'] for t in ds.pipeline]
    assert 'MultiTaskRandomScaleRotate' in types
    for _ in range(3):
        sample = dataset[0]['data_samples']
        assert sample.gt_sem_seg.data.shape[-2:] == (480, 640)
        assert sample.gt_normal_map.data.shape == (3, 480, 640)
        assert sample.gt_depth_map.data.shape[-2:] == (480, 640)
        # metric depth is kept by the zoom (the reference's ScaleNRotate)
        depth = sample.gt_depth_map.data
        ref = nyud_root[1]['a']['depth']
        assert float(depth.max()) <= ref.max() + 1e-4


def test_pascal_reference_pipeline_512_with_rotation(pascal_root):
    cfg = _cfg('mtcp/mtcp_vitl_pascal.py')
    ds = cfg.train_dataloader.dataset
    ds.data_root = pascal_root[0]
    rotate = [t for t in ds.pipeline
              if t['type'] == 'MultiTaskRandomScaleRotate'][0]
    assert tuple(rotate.rotations) == (-20.0, 20.0)
    assert tuple(rotate.scales) == (0.75, 1.25)
    dataset = DATASETS.build(ds)
    out = dataset[0]
    assert out['inputs'].shape[-2:] == (512, 512)
    sample = out['data_samples']
    for field in ('gt_sem_seg', 'gt_human_parts', 'gt_saliency_map',
                  'gt_normal_map', 'gt_edge_map'):
        assert getattr(sample, field).data.shape[-2:] == (512, 512)
    test = cfg.test_dataloader.dataset
    test.data_root = pascal_root[0]
    test.split = 'train'
    out = DATASETS.build(test)[0]
    # the image is resized to 512x512, the ground truth stays original
    assert out['inputs'].shape[-2:] == (512, 512)
    assert out['data_samples'].gt_sem_seg.data.shape[-2:] == (32, 40)
