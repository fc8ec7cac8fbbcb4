"""The released MT-CP form, one option at a time: side heads, side losses,
the normals losses, CBAM normalization, decoders from config, the residual
refinement and the side-output control of the baseline head."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mmmtcp.models import (CoherenceFusionModule, ComponentNormalLoss,
                           SpatialRefinementModule)
from mmseg.registry import MODELS
from test_multi_task_segmentor import NYUD, make_batch, tiny_model

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RELEASE = ['semseg', 'depth', 'normals']


def _batch(model, tasks=NYUD, shapes=((64, 64), ) * 2):
    return model.data_preprocessor(make_batch(tasks, list(shapes)), True)


def test_component_normal_loss_by_hand():
    pred = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]], [[0.0, 0.0]]]])
    target = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]]]])
    # pixel 0 valid: errors (1, 0, 0); pixel 1 invalid (all-zero target)
    mse = ComponentNormalLoss(p=2)(pred, target)
    l1 = ComponentNormalLoss(p=1)(pred, target)
    torch.testing.assert_close(mse, torch.tensor(1.0 / 3))
    torch.testing.assert_close(l1, torch.tensor(1.0 / 3))
    pred[0, 0, 0, 0] = 3.0
    torch.testing.assert_close(ComponentNormalLoss(p=2)(pred, target),
                               torch.tensor(4.0 / 3))
    # normalized first: (3, 0, 0) -> (1, 0, 0), no error
    torch.testing.assert_close(
        ComponentNormalLoss(p=2, normalize=True)(pred, target),
        torch.tensor(0.0))
    # nothing valid: zero with a gradient
    pred.requires_grad_()
    out = ComponentNormalLoss()(pred, torch.zeros_like(target))
    out.backward()
    assert out.item() == 0 and pred.grad is not None
    with pytest.raises(ValueError, match='`p`'):
        ComponentNormalLoss(p=3)


def test_side_loss_decode_supervises_the_side_outputs_only():
    torch.manual_seed(0)
    model = tiny_model(
        NYUD,
        loss_decode=dict(normals=dict(type='ComponentNormalLoss', p=2)),
        side_loss_decode=dict(normals=dict(type='ComponentNormalLoss',
                                           p=1))).train()
    head = model.decode_head
    data = _batch(model)
    x = model.extract_feat(data['inputs'])
    out = head(x, with_side=True)
    losses = head.loss_by_feat(out, data['data_samples'])
    gt = head._stack_gt('normals', data['data_samples'])
    up = lambda p: nn.functional.interpolate(  # noqa: E731
        p, gt.shape[2:], mode='bilinear', align_corners=False)
    torch.testing.assert_close(
        losses['loss_normals'],
        ComponentNormalLoss(p=2)(up(out['preds']['normals']), gt))
    for i, side in enumerate(out['side_preds']['normals']):
        torch.testing.assert_close(
            losses[f'loss_normals_aux{i}'],
            0.5 * ComponentNormalLoss(p=1)(up(side), gt))
    # other tasks keep their main losses on the side outputs
    assert 'semseg' not in head.side_losses
    with pytest.raises(ValueError, match='side_loss_decode'):
        tiny_model(NYUD, side_loss_decode=dict(albedo=dict(type='L1Loss')))


def test_reference_side_heads():
    model = tiny_model(NYUD, side_head='reference')
    side = model.decode_head.side_outputs['semseg'][0]
    convs = [m for m in side.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in side.modules() if isinstance(m, nn.BatchNorm2d)]
    # conv (no bias), conv (no bias), BN, ReLU, classifier conv
    assert [c.bias is None for c in convs] == [True, True, False]
    assert [c.kernel_size for c in convs] == [(1, 1)] * 3
    assert len(norms) == 1 and convs[-1].out_channels == 5
    default = tiny_model(NYUD).decode_head.side_outputs['semseg'][0]
    assert len([m for m in default.modules()
                if isinstance(m, nn.Conv2d)]) == 2
    with pytest.raises(ValueError, match='side_head'):
        tiny_model(NYUD, side_head='wide')


def test_cbam_norm_cfg_reaches_the_cbams_only():
    cfg = dict(type='BN', momentum=0.01)
    cfm = CoherenceFusionModule(8, [8, 8], reduction=2, cbam_norm_cfg=cfg)
    srm = SpatialRefinementModule(8, [8, 8, 8], 8, reduction=2,
                                  cbam_norm_cfg=cfg)
    for module in (cfm, srm):
        for name, m in module.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                expected = 0.01 if 'cbam' in name else 0.1
                assert m.momentum == expected, name
    # the head passes it through cfm/srm
    model = tiny_model(NYUD, cfm=dict(reduction=2, cbam_norm_cfg=cfg),
                       srm=dict(reduction=2, cbam_norm_cfg=cfg))
    gates = [m for n, m in model.decode_head.named_modules()
             if 'cbam.spatial_conv.bn' in n]
    assert gates and all(m.momentum == 0.01 for m in gates)


def test_residual_refinement_starts_as_the_decoder_and_learns():
    torch.manual_seed(0)
    model = tiny_model(NYUD, refine='residual')
    model.init_weights()
    model.train()
    head = model.decode_head
    assert head.gates is None
    data = _batch(model)
    x = model.extract_feat(data['inputs'])
    out = head(x, with_side=False)
    decoded = head.decode(x)
    for task in NYUD:
        torch.testing.assert_close(out['preds'][task],
                                   head.outputs[task](decoded[task][0]))
    # main losses only: the projection learns at once (a whole layer of
    # weights), the branch behind it once the projection is non-zero
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'aux' not in k).backward()
    for task in NYUD:
        assert head.branch_projs[task].weight.grad.abs().sum() > 0
        assert all(p.grad is None or p.grad.abs().sum() == 0
                   for p in head.cfms[task].parameters())
    model.zero_grad()
    with torch.no_grad():
        for proj in head.branch_projs.values():
            proj.weight.normal_(std=0.1)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'aux' not in k).backward()
    for task in NYUD:
        assert sum(p.grad.abs().sum()
                   for p in head.cfms[task].parameters()) > 0


def test_baseline_side_levels_is_the_deep_supervision_control():
    torch.manual_seed(0)
    model = tiny_model(NYUD, head='MultiTaskBaselineHead',
                       side_levels=2).train()
    head = model.decode_head
    data = _batch(model)
    x = model.extract_feat(data['inputs'])
    out = head(x, with_side=True)
    decoded = head.decode(x)
    for task in NYUD:
        sides = out['side_preds'][task]
        # coarse to fine: 1/16 then 1/8 of the 64x64 input
        assert [s.shape[-1] for s in sides] == [4, 8]
        torch.testing.assert_close(
            sides[0], head.side_outputs[task][0](decoded[task][1][2]))
    losses = model(**data, mode='loss')
    for task in NYUD:
        assert {f'loss_{task}_aux0', f'loss_{task}_aux1'} <= set(losses)
    assert head(x, with_side=False)['side_preds'] == {}
    plain = tiny_model(NYUD, head='MultiTaskBaselineHead').train()
    assert not any('aux' in k for k in plain(**_batch(plain), mode='loss'))
    with pytest.raises(ValueError, match='side_levels'):
        tiny_model(NYUD, head='MultiTaskBaselineHead', side_levels=4)


def test_decoder_from_config_sets_the_trace_back_pyramid():
    """A decoder with a ``type`` is built from the registry; the SRM walks
    over the channels of the pyramid it returns."""
    cfg = dict(
        type='MultiTaskSegmentor',
        data_preprocessor=dict(
            type='MultiTaskDataPreProcessor', mean=[0, 0, 0],
            std=[255, 255, 255], size_divisor=32),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8,
                      base_channels=8, norm_cfg=dict(type='BN')),
        decode_head=dict(
            type='MTCPHead', tasks=RELEASE, num_classes=dict(semseg=5),
            in_channels=[8], in_index=[0], channels=8,
            decoder=dict(type='SwinTaskDecoder', embed_dims=8,
                         num_heads=(2, 2, 2), pyramid='lateral'),
            cfm=dict(reduction=2), srm=dict(reduction=2)))
    model = MODELS.build(cfg)
    head = model.decode_head
    assert head.pyramid_channels == [8, 16, 32]
    steps = head.srms['semseg'].steps
    # coarse to fine over 32, 16, 8 channels
    assert [s.feat_cbam.channel_mlp[0].in_channels for s in steps] == [
        32, 16, 8]
    data = _batch(model, RELEASE)
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize('name', [
    'mtcp/mtcp_release_demo_synthetic.py',
    'baseline/mt_baseline_release_demo_synthetic.py'
])
def test_release_configs(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    model = MODELS.build(cfg.model)
    head = model.decode_head
    assert model.tasks == RELEASE
    assert cfg.train_dataloader.dataset.tasks == RELEASE
    assert cfg.val_evaluator.tasks == RELEASE
    assert type(model.neck).__name__ == 'FPN'
    assert type(head.decoders['depth']).__name__ == 'SwinTaskDecoder'
    assert head.side_head == 'reference'
    assert type(head.losses['normals'][0]).__name__ == 'ComponentNormalLoss'
    assert head.losses['normals'][0].p == 2
    assert head.side_losses['normals'][0].p == 1
    if type(head).__name__ == 'MTCPHead':
        assert head.refine == 'reference'
        cfm = head.cfms['semseg']
        assert (cfm.attn_scale, cfm.attn_downsample) == (1.0, 1)
        assert cfm.value_cbam.channel_mlp[0].out_channels == 2  # 32 // 16
        assert cfm.value_cbam.spatial_conv.bn.momentum == 0.01
        assert cfm.value_norm.momentum == 0.1
