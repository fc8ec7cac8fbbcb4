"""MultiTaskSegmentor with MTCPHead / MultiTaskBaselineHead on tiny inputs."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mmmtcp.tasks import get_task
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

init_default_scope('mmseg')

NYUD = ['semseg', 'depth', 'normals', 'edge']
PASCAL = ['semseg', 'human_parts', 'saliency', 'normals', 'edge']
NUM_CLASSES = dict(semseg=5, human_parts=3)


def tiny_model(tasks, head='MTCPHead', **head_kwargs):
    head_cfg = dict(
        type=head,
        tasks=tasks,
        num_classes={t: NUM_CLASSES[t]
                     for t in tasks if t in NUM_CLASSES},
        in_channels=[8, 16, 32, 64],
        channels=8,
        decoder=dict(num_convs=1),
        **head_kwargs)
    if head == 'MTCPHead':
        head_cfg.setdefault('cfm', dict(reduction=2))
        head_cfg.setdefault('srm', dict(reduction=2))
    cfg = dict(
        type='MultiTaskSegmentor',
        data_preprocessor=dict(
            type='MultiTaskDataPreProcessor',
            mean=[0, 0, 0],
            std=[255, 255, 255],
            size_divisor=32,
            test_cfg=dict(size_divisor=32)),
        backbone=dict(
            type='ResNetV1c',
            depth=18,
            stem_channels=8,
            base_channels=8,
            norm_cfg=dict(type='BN')),
        decode_head=head_cfg)
    return MODELS.build(cfg)


def make_sample(tasks, h, w, **meta):
    sample = SegDataSample()
    sample.set_metainfo(
        dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), **meta))
    for task in tasks:
        spec = get_task(task)
        if spec.kind == 'label':
            data = torch.randint(0, NUM_CLASSES[task], (1, h, w))
            data[:, :2] = 255
        elif spec.kind in ('binary', 'boundary'):
            data = (torch.rand(1, h, w) > 0.8).long()
        elif spec.kind == 'depth':
            data = torch.rand(1, h, w) * 4
            data[:, :, :3] = 0
        else:
            data = nn.functional.normalize(torch.randn(3, h, w), dim=0)
        sample.set_field(PixelData(data=data), spec.gt_field)
    return sample


def make_batch(tasks, shapes, **meta):
    return dict(
        inputs=[torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
                for h, w in shapes],
        data_samples=[make_sample(tasks, h, w, **meta) for h, w in shapes])


@pytest.mark.parametrize('tasks', [NYUD, PASCAL])
def test_loss_keys_and_gradients_reach_every_branch(tasks):
    torch.manual_seed(0)
    model = tiny_model(tasks).train()
    data = model.data_preprocessor(make_batch(tasks, [(60, 70), (64, 64)]),
                                   True)
    losses = model(**data, mode='loss')
    expected = set()
    for t in tasks:
        expected |= {f'loss_{t}', f'loss_{t}_aux0', f'loss_{t}_aux1'}
    assert set(losses) == expected
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    head = model.decode_head
    for task in tasks:
        for name, module in [('decoder', head.decoders[task]),
                             ('output', head.outputs[task]),
                             ('side', head.side_outputs[task]),
                             ('srm', head.srms[task]),
                             ('cfm gates', head.cfms[task].gates),
                             ('cfm', head.cfms[task])]:
            grads = [p.grad for p in module.parameters()]
            assert all(g is not None for g in grads), (task, name)
            assert sum(g.abs().sum() for g in grads) > 0, (task, name)
    # the other tasks' features reach this task through the CFM
    assert all(p.grad is not None for p in model.backbone.parameters()
               if p.requires_grad)


def test_side_loss_weight_and_baseline_head():
    torch.manual_seed(0)
    model = tiny_model(NYUD, side_loss_weight=0.0).train()
    data = model.data_preprocessor(make_batch(NYUD, [(64, 64)] * 2), True)
    losses = model(**data, mode='loss')
    assert all(losses[f'loss_{t}_aux{i}'] == 0 for t in NYUD for i in (0, 1))
    base = tiny_model(NYUD, head='MultiTaskBaselineHead').train()
    losses = base(**data, mode='loss')
    assert set(losses) == {f'loss_{t}' for t in NYUD}
    sum(losses.values()).backward()


def test_missing_ground_truth_is_a_clear_error():
    model = tiny_model(['semseg', 'depth']).train()
    data = model.data_preprocessor(make_batch(['semseg'], [(64, 64)] * 2),
                                   True)
    with pytest.raises(KeyError, match='gt_depth_map'):
        model(**data, mode='loss')


def test_predict_restores_original_size_and_skips_side_heads():
    torch.manual_seed(0)
    model = tiny_model(PASCAL).eval()
    called = []
    for heads in model.decode_head.side_outputs.values():
        for h in heads:
            h.register_forward_hook(lambda *a: called.append(1))
    # pipeline padding (img_shape < pad_shape) + preprocessor padding
    batch = make_batch(PASCAL, [(64, 80), (64, 80)])
    for s in batch['data_samples']:
        s.set_metainfo(dict(img_shape=(50, 70), ori_shape=(100, 140)))
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), False)
        assert data['inputs'].shape[2:] == (64, 96)
        results = model(**data, mode='predict')
    assert not called
    for r in results:
        for task in PASCAL:
            spec = get_task(task)
            pred = getattr(r, spec.pred_field).data
            assert pred.shape == (spec.channels if task == 'normals' else 1,
                                  100, 140)
            if spec.kind == 'label':
                assert pred.dtype == torch.int64
                assert pred.max() < NUM_CLASSES[task]
            elif spec.kind in ('binary', 'boundary'):
                assert 0 <= pred.min() and pred.max() <= 1
            elif spec.kind == 'normal':
                torch.testing.assert_close(
                    pred.norm(dim=0), torch.ones(100, 140))
    # tensor mode: raw outputs per task, no side outputs
    with torch.no_grad():
        raw = model(data['inputs'], mode='tensor')
    assert set(raw) == set(PASCAL) and not called


def test_flip_undo_negates_normal_x():
    torch.manual_seed(0)
    model = tiny_model(['normals', 'depth']).eval()
    raw = dict(
        normals=torch.randn(1, 3, 8, 10), depth=torch.rand(1, 1, 8, 10))
    plain = SegDataSample(
        metainfo=dict(img_shape=(8, 10), ori_shape=(8, 10)))
    flipped = SegDataSample(
        metainfo=dict(img_shape=(8, 10), ori_shape=(8, 10), flip=True,
                      flip_direction='horizontal'))
    a = model.postprocess_result(raw, [plain])[0]
    b = model.postprocess_result(raw, [flipped])[0]
    na, nb = a.pred_normal_map.data, b.pred_normal_map.data
    torch.testing.assert_close(nb[0], -na[0].flip(-1))
    torch.testing.assert_close(nb[1:], na[1:].flip(-1))
    torch.testing.assert_close(b.pred_depth_map.data,
                               a.pred_depth_map.data.flip(-1))


def test_slide_inference_matches_size_and_whole_on_single_window():
    torch.manual_seed(0)
    model = tiny_model(NYUD).eval()
    batch = make_batch(NYUD, [(64, 96)])
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), False)
        whole = model.inference(data['inputs'],
                                [s.metainfo for s in data['data_samples']])
        model.test_cfg = dict(mode='slide', crop_size=(64, 64),
                              stride=(32, 32))
        results = model(**data, mode='predict')
        # one window covering the image gives the whole-image result
        model.test_cfg = dict(mode='slide', crop_size=(64, 96),
                              stride=(64, 96))
        single = model.inference(data['inputs'],
                                 [s.metainfo for s in data['data_samples']])
    for task in NYUD:
        torch.testing.assert_close(single[task], whole[task])
        field = get_task(task).pred_field
        assert getattr(results[0], field).shape == (64, 96)
    with pytest.raises(ValueError, match='crop_size'):
        MODELS.build(
            dict(
                type='MultiTaskSegmentor',
                backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                              base_channels=8),
                decode_head=dict(
                    type='MultiTaskBaselineHead', tasks=['depth'],
                    in_channels=[8, 16, 32, 64], channels=8),
                test_cfg=dict(mode='slide')))


@MODELS.register_module()
class _FeatureNormRegularizer(nn.Module):
    """A training-only regularizer written against the documented
    interface: it projects each task's features and penalizes their norm."""

    def __init__(self, tasks, channels):
        super().__init__()
        self.proj = nn.ModuleDict(
            {t: nn.Conv2d(channels, 4, 1) for t in tasks})
        self.seen = []

    def loss(self, task_feats, data_samples):
        self.seen.append({t: tuple(f.shape) for t, f in task_feats.items()})
        return {
            f'loss_featnorm_{t}': self.proj[t](f).pow(2).mean() * 1e-3
            for t, f in task_feats.items()
        }


def test_regularizer_interface():
    torch.manual_seed(0)
    cfg_tasks = ['semseg', 'depth']
    model = MODELS.build(
        dict(
            type='MultiTaskSegmentor',
            data_preprocessor=dict(
                type='MultiTaskDataPreProcessor', mean=[0, 0, 0],
                std=[255, 255, 255], size_divisor=32),
            backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                          base_channels=8),
            decode_head=dict(
                type='MTCPHead', tasks=cfg_tasks, num_classes=dict(semseg=5),
                in_channels=[8, 16, 32, 64], channels=8,
                cfm=dict(reduction=2), srm=dict(reduction=2)),
            regularizer=[dict(type='_FeatureNormRegularizer',
                              tasks=cfg_tasks, channels=8)]))
    assert model.with_regularizer
    reg = model.regularizers[0]
    model.train()
    data = model.data_preprocessor(make_batch(cfg_tasks, [(64, 64)] * 2),
                                   True)
    losses = model(**data, mode='loss')
    assert {'loss_featnorm_semseg', 'loss_featnorm_depth'} <= set(losses)
    assert reg.seen[-1] == {t: (2, 8, 16, 16) for t in cfg_tasks}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in reg.parameters())
    model.eval()
    with torch.no_grad():
        model(**model.data_preprocessor(data, False), mode='predict')
    assert len(reg.seen) == 1  # never called at inference


def test_vit_backbone_with_pyramid_neck():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='MultiTaskSegmentor',
            data_preprocessor=dict(
                type='MultiTaskDataPreProcessor', mean=[127.5] * 3,
                std=[127.5] * 3, size_divisor=32),
            backbone=dict(
                type='mmpretrain.VisionTransformer',
                arch=dict(embed_dims=32, num_layers=4, num_heads=2,
                          feedforward_channels=64),
                img_size=(64, 64),
                patch_size=16,
                out_indices=(0, 1, 2, 3),
                out_type='featmap'),
            neck=dict(type='ViTPyramidNeck', in_channels=[32] * 4,
                      out_channels=[8, 8, 16, 32]),
            decode_head=dict(
                type='MTCPHead', tasks=NYUD, num_classes=dict(semseg=5),
                in_channels=[8, 8, 16, 32], channels=8,
                cfm=dict(reduction=2, impl='chunked', chunk_size=50),
                srm=dict(reduction=2))))
    model.train()
    # mmpretrain's ViT returns channels-last views; every convolution of
    # the neck and head computes on NCHW-contiguous maps (their CPU backward
    # pass is 2-3x slower in the channels-last layout)
    layouts = []

    def record(module, args):
        layouts.append(args[0].is_contiguous())

    handles = [
        m.register_forward_pre_hook(record)
        for part in (model.neck, model.decode_head)
        for m in part.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)
    ]
    data = model.data_preprocessor(make_batch(NYUD, [(64, 96)] * 2), True)
    feats = model.backbone(data['inputs'])
    assert not feats[0].is_contiguous()
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    assert model.backbone.patch_embed.projection.weight.grad is not None
    for h in handles:
        h.remove()
    assert len(layouts) > 50 and all(layouts)
