"""Every model config builds; the CPU demo and a mixed mmseg config train
for a few iterations with a real Runner on tiny synthetic scenes."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmmtcp.datasets.synthetic import generate_scenes
from mmseg.registry import MODELS

init_default_scope('mmseg')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', '*', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', '_base_', 'models', '*.py')))
CONFIGS = [c for c in CONFIGS if '/_base_/datasets/' not in c and
           '/_base_/schedules/' not in c and osp.basename(c) !=
           'default_runtime.py']
# Built at full size (ViT-L takes ~5 s); the other ViT configs get a small
# ViT of the same kind so the suite stays fast.
FULL_SIZE = {'mtcp_vitl_nyud.py', 'mtcp_vitl_pascal.py'}


def _model_cfg(path):
    cfg = Config.fromfile(path)
    model = cfg.model
    model.backbone.pop('init_cfg', None)
    model.backbone.pop('pretrained', None)
    if model.backbone.type == 'mmpretrain.VisionTransformer' and \
            osp.basename(path) not in FULL_SIZE:
        model.backbone.arch = dict(
            embed_dims=32, num_layers=4, num_heads=2,
            feedforward_channels=64)
        model.backbone.out_indices = (0, 1, 2, 3)
        model.neck.in_channels = [32] * 4
    return model


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(c, ROOT) for c in CONFIGS])
def test_config_builds(path):
    if not any(d in path for d in ('/mtcp/', '/baseline/', '/single_task/',
                                   '/mixed/', '/contrastive/',
                                   '/_base_/models/')):
        pytest.skip('not a model config')
    model = MODELS.build(_model_cfg(path))
    assert type(model).__name__ == 'MultiTaskSegmentor'
    assert model.tasks == list(Config.fromfile(path).model.decode_head.tasks)


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = osp.join(str(tmp_path_factory.mktemp('scenes')), 'data')
    generate_scenes(root, 4, 2, height=48, width=64, seed=0)
    return root


def _tiny_run_cfg(path, scenes, work_dir):
    cfg = Config.fromfile(path)
    crop = (32, 48)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = scenes
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    pipeline = cfg.train_dataloader.dataset.pipeline
    for t in pipeline:
        if t.type == 'MultiTaskRandomResize':
            t.scale = (64, 48)
        if t.type in ('MultiTaskRandomCrop', 'MultiTaskPad'):
            t[('crop_size' if 'Crop' in t.type else 'size')] = crop
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=4,
                         val_interval=4)
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    cfg.work_dir = work_dir
    return cfg


@pytest.mark.parametrize('name', [
    'mtcp/mtcp_demo_synthetic.py', 'mixed/mtcp_mit-b0_synthetic.py'
])
def test_runner_trains_and_validates(name, scenes, tmp_path):
    torch.manual_seed(0)
    cfg = _tiny_run_cfg(osp.join(ROOT, 'configs', name), scenes,
                        str(tmp_path))
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4
    scalars = runner.message_hub.log_scalars
    for task in ('semseg', 'depth', 'normals', 'edge'):
        assert f'train/loss_{task}' in scalars
        assert f'train/loss_{task}_aux0' in scalars
    metrics = runner.val_loop.run()
    assert metrics
