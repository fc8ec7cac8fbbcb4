"""The configs of ``configs/mixed/`` inherit real mmseg model bases
(``mmseg::_base_/models/segformer_mit-b0.py``, ``upernet_swin.py``,
``fcn_r50-d8.py``) and train for two iterations with a real Runner on tiny
synthetic scenes; the mmseg-compatible arguments of MultiTaskSegmentor
(``pretrained``, ``auxiliary_head``, an int ``num_classes``) behave as
documented."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import PixelData

from mmmtcp.datasets import generate_scenes
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from tool_runs import ROOT, in_process_cfg

TASKS = ('semseg', 'depth', 'normals', 'edge')
MIXED = {
    # config: whether its mmseg base brings an auxiliary FCNHead
    'mtcp_mit-b0_nyud.py': False,
    'mtcp_swin-t_nyud.py': True,
    'mtcp_r50-d8_nyud.py': True,
}


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = osp.join(str(tmp_path_factory.mktemp('mixed')), 'scenes')
    generate_scenes(root, num_train=2, num_val=1, height=64, width=96)
    return root


def _mixed(name: str) -> str:
    return osp.join(ROOT, 'configs', 'mixed', name)


def _tiny_cfg(name: str, scenes: str, work_dir: str) -> Config:
    """The config as written, on 64x96 scenes, no pretrained weights."""
    cfg = in_process_cfg(_mixed(name), scenes, work_dir)
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    cfg.model.data_preprocessor.size = (64, 96)
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'MultiTaskRandomResize':
            t.scale = (96, 64)
        if t.type == 'MultiTaskRandomCrop':
            t.crop_size = (64, 96)
        if t.type == 'MultiTaskPad':
            t.size = (64, 96)
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=2, val_interval=1000)
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=1000, save_last=False)
    return cfg


@pytest.mark.parametrize('name', sorted(MIXED))
def test_mixed_config_trains(name, scenes, tmp_path):
    raw = Config.fromfile(_mixed(name))
    # the mmseg base and its structure are inherited, the head replaced
    assert raw.model.type == 'MultiTaskSegmentor'
    assert raw.model.decode_head.type == 'MTCPHead'
    assert raw.model.decode_head.num_classes == 40
    assert ('auxiliary_head' in raw.model) == MIXED[name]
    torch.manual_seed(0)
    runner = Runner.from_cfg(_tiny_cfg(name, scenes, str(tmp_path)))
    model = runner.model
    assert model.decode_head.num_classes == dict(semseg=40)
    assert model.with_auxiliary_head == MIXED[name]
    runner.train()
    assert runner.iter == 2
    scalars = runner.message_hub.log_scalars
    for task in TASKS:
        assert f'train/loss_{task}' in scalars
        # LossPrioritization of lps_nyud.py balances the four tasks only
        assert f'train/weight_{task}' in scalars
    assert not any(k.startswith('train/weight_aux') for k in scalars)
    if MIXED[name]:
        assert model.auxiliary_tasks == ['semseg']
        assert 'train/loss_semseg_aux' in scalars
        assert 'train/aux.acc_seg' in scalars
    # the auxiliary head is not used at inference
    model.eval()
    with torch.no_grad():
        preds = model.predict(torch.randn(1, 3, 64, 96))
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 96)


def _segformer_cfg(**decode_head):
    cfg = Config.fromfile(_mixed('mtcp_mit-b0_nyud.py')).model
    cfg.backbone.init_cfg = None
    cfg.backbone.num_layers = [1, 1, 1, 1]
    cfg.decode_head.channels = 16
    for key, value in decode_head.items():
        cfg.decode_head[key] = value
    return cfg


def test_pretrained_sets_backbone_init_cfg():
    cfg = _segformer_cfg()
    cfg.pretrained = 'ckpt.pth'
    model = MODELS.build(cfg)
    assert model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='ckpt.pth')
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint='other.pth')
    with pytest.raises(ValueError, match='model.backbone.init_cfg'):
        MODELS.build(cfg)


def test_num_classes_int_and_dict():
    model = MODELS.build(_segformer_cfg(num_classes=13))
    assert model.decode_head.num_classes == dict(semseg=13)
    model = MODELS.build(_segformer_cfg(num_classes=dict(semseg=13)))
    assert model.decode_head.num_classes == dict(semseg=13)
    # without semseg, the only label task
    model = MODELS.build(
        _segformer_cfg(tasks=['human_parts', 'saliency'], num_classes=7,
                       loss_decode=dict()))
    assert model.decode_head.num_classes == dict(human_parts=7)
    with pytest.raises(ValueError, match='several label tasks'):
        MODELS.build(_segformer_cfg(
            tasks=['human_parts', dict(name='parts2', kind='label')],
            num_classes=7, loss_decode=dict()))


def test_mmseg_head_keys_name_the_fix():
    cfg = _segformer_cfg(dropout_ratio=0.1, pool_scales=(1, 2, 3, 6))
    with pytest.raises(ValueError, match=r"_delete_=True.*"):
        MODELS.build(cfg)


def _aux_head(num_classes=40, **kwargs):
    return dict(type='FCNHead', in_channels=160, in_index=2, channels=8,
                num_convs=1, concat_input=False, num_classes=num_classes,
                norm_cfg=dict(type='BN'), **kwargs)


def test_auxiliary_head_checks():
    cfg = _segformer_cfg()
    cfg.auxiliary_head = _aux_head(num_classes=19)
    with pytest.raises(ValueError,
                       match=r'model.auxiliary_head.num_classes=40'):
        MODELS.build(cfg)
    cfg.auxiliary_head = _aux_head()
    cfg.auxiliary_task = 'depth'
    with pytest.raises(ValueError, match='no labels'):
        MODELS.build(cfg)


def test_auxiliary_head_list_on_another_task():
    """A list of auxiliary heads, one of them on the edge labels: each
    task's heads give one ``loss_<task>_aux``; the mmseg head reads the
    task's ground truth as ``gt_sem_seg``."""
    cfg = _segformer_cfg()
    cfg.auxiliary_head = [_aux_head(), _aux_head(num_classes=2)]
    cfg.auxiliary_task = ['semseg', 'edge']
    model = MODELS.build(cfg)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.set_metainfo(dict(img_shape=(64, 96), pad_shape=(64, 96)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 40, (1, 64, 96)))
        sample.gt_depth_map = PixelData(data=torch.rand(1, 64, 96) + 0.5)
        sample.gt_normal_map = PixelData(
            data=torch.nn.functional.normalize(torch.randn(3, 64, 96), dim=0))
        sample.gt_edge_map = PixelData(
            data=torch.randint(0, 2, (1, 64, 96)))
        samples.append(sample)
    losses = model.loss(torch.randn(2, 3, 64, 96), samples)
    assert {'loss_semseg_aux', 'loss_edge_aux', 'aux_0.acc_seg',
            'aux_1.acc_seg'} <= set(losses)
    assert not any(k.startswith('aux') and 'loss' in k for k in losses)
    losses['loss_edge_aux'].backward()
    assert model.auxiliary_head[1].conv_seg.weight.grad is not None
