"""Tests of the released MT-CP task decoder (SwinTaskDecoder, FPNFusion) and of
TaskDecoder's ``fuse_mode`` / ``pyramid_channels``."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmmtcp.models.layers import FPNFusion, SwinTaskDecoder, TaskDecoder
from mmseg.registry import MODELS

SHARED = [16, 32, 64, 128]


def _inputs(hw, batch=2, channels=SHARED, seed=0):
    """Shared features fine to coarse, level 0 at ``hw``."""
    g = torch.Generator().manual_seed(seed)
    h, w = hw
    return [
        torch.randn(batch, c, max(h // 2**i, 1), max(w // 2**i, 1),
                    generator=g) for i, c in enumerate(channels)
    ]


def _decoder(**kwargs):
    torch.manual_seed(0)
    cfg = dict(in_channels=SHARED, channels=16, embed_dims=16,
               num_heads=(2, 2, 2))
    cfg.update(kwargs)
    return SwinTaskDecoder(**cfg)


def _ceil_sizes(hw, levels):
    h, w = hw
    sizes = []
    for _ in range(levels):
        sizes.append((h, w))
        h, w = -(-h // 2), -(-w // 2)
    return sizes


def _release_fpn(feats, lateral_w, lateral_b, fpn_w, fpn_b):
    """Independent statement of the release's FPN fusion with torch ops:
    lateral 1x1 convs, nearest top-down sum, a 3x3 conv per level (the
    coarsest on its lateral alone); every level's output, fine to coarse."""
    lat = [F.conv2d(x, w, b) for x, w, b in zip(feats, lateral_w, lateral_b)]
    fused = lat[-1]
    outs = [F.conv2d(fused, fpn_w[-1], fpn_b[-1], padding=1)]
    for i in range(len(lat) - 2, -1, -1):
        fused = F.interpolate(
            fused, size=lat[i].shape[2:], mode='nearest') + lat[i]
        outs.insert(0, F.conv2d(fused, fpn_w[i], fpn_b[i], padding=1))
    return outs


def _weights(fusion):
    lat_w = [m.conv.weight for m in fusion.lateral_convs]
    lat_b = [m.conv.bias for m in fusion.lateral_convs]
    fpn_w = [m.conv.weight for m in fusion.fpn_convs]
    fpn_b = [m.conv.bias for m in fusion.fpn_convs]
    return lat_w, lat_b, fpn_w, fpn_b


@pytest.mark.parametrize('pyramid', ['lateral', 'fused'])
@pytest.mark.parametrize('hw', [(24, 32), (15, 21), (30, 40)])
def test_shapes_and_channels(pyramid, hw):
    dec = _decoder(pyramid=pyramid)
    x_t, feats = dec(_inputs(hw))
    assert x_t.shape == (2, 16, *hw)
    sizes = _ceil_sizes(hw, 3)
    expected = [16, 32, 64] if pyramid == 'lateral' else [16, 16, 16]
    assert dec.pyramid_channels == expected
    assert [tuple(f.shape) for f in feats] == [
        (2, c, *s) for c, s in zip(expected, sizes)
    ]
    assert all(f.is_contiguous() for f in feats)
    assert torch.isfinite(x_t).all()


def test_fpn_fusion_matches_release_arithmetic():
    torch.manual_seed(1)
    fusion = FPNFusion([16, 32, 64], 8)
    # odd sizes: the nearest upsampling of 8x11 to 15x21 is not a doubling
    feats = [torch.randn(2, c, *s)
             for c, s in zip([16, 32, 64], _ceil_sizes((15, 21), 3))]
    x_t, outs = fusion(feats)
    ref = _release_fpn(feats, *_weights(fusion))
    assert len(outs) == 3
    for out, r in zip(outs, ref):
        torch.testing.assert_close(out, r, rtol=0, atol=0)
    torch.testing.assert_close(x_t, ref[0], rtol=0, atol=0)
    # only the finest output conv: the same X_t
    finest = FPNFusion([16, 32, 64], 8, all_levels=False)
    assert len(finest.fpn_convs) == 1
    finest.load_state_dict(fusion.state_dict(), strict=False)
    x_t2, outs2 = finest(feats)
    torch.testing.assert_close(x_t2, x_t, rtol=0, atol=0)
    assert len(outs2) == 1


def test_fpn_fusion_options():
    fusion = FPNFusion([8, 16], 8, norm_cfg=dict(type='BN'),
                       act_cfg=dict(type='ReLU'), upsample_mode='bilinear')
    assert fusion.lateral_convs[0].with_norm
    assert fusion.fpn_convs[1].with_activation
    x_t, outs = fusion([torch.randn(2, 8, 7, 9), torch.randn(2, 16, 4, 5)])
    assert x_t.shape == (2, 8, 7, 9) and outs[1].shape == (2, 8, 4, 5)
    plain = FPNFusion([8, 16], 8)
    assert plain.lateral_convs[0].conv.bias is not None
    assert not plain.lateral_convs[0].with_norm
    assert not plain.fpn_convs[0].with_activation
    with pytest.raises(ValueError, match='upsample_mode'):
        FPNFusion([8], 8, upsample_mode='area')
    with pytest.raises(ValueError, match='in_channels'):
        FPNFusion([], 8)
    with pytest.raises(ValueError, match='2 feature maps'):
        plain([torch.randn(1, 8, 4, 4)])


@pytest.mark.parametrize('pyramid', ['lateral', 'fused'])
def test_decoder_x_t_is_the_release_fusion_of_its_stages(pyramid):
    dec = _decoder(pyramid=pyramid)
    stage_outs = []
    dec.fusion.register_forward_pre_hook(
        lambda m, args: stage_outs.extend(args[0]))
    x_t, feats = dec(_inputs((15, 21)))
    lat_w, lat_b, fpn_w, fpn_b = _weights(dec.fusion)
    if pyramid == 'lateral':
        # the trace-back pyramid is the stage outputs the fusion reads
        for f, s in zip(feats, stage_outs):
            assert f is s
        # only the finest output conv is built (the coarser ones would get
        # no gradient); stand-ins for the others leave X_t unchanged
        assert len(dec.fusion.fpn_convs) == 1
        fpn_w = fpn_w + [torch.zeros_like(fpn_w[0])] * 2
        fpn_b = fpn_b + [torch.zeros_like(fpn_b[0])] * 2
    else:
        assert len(dec.fusion.fpn_convs) == 3
    ref = _release_fpn(stage_outs, lat_w, lat_b, fpn_w, fpn_b)
    torch.testing.assert_close(x_t, ref[0], rtol=0, atol=0)
    if pyramid == 'fused':
        for f, r in zip(feats, ref):
            torch.testing.assert_close(f, r, rtol=0, atol=0)


def test_swin_structure_of_the_release():
    dec = _decoder(drop_path_rate=0.3)
    assert dec.in_proj is None and dec.in_norm is None
    names = [n for n, _ in dec.named_parameters()]
    assert not any('absolute_pos' in n or 'patch_embed' in n for n in names)
    assert all(n.split('.')[0] in ('stages', 'out_norms', 'fusion')
               for n in names)
    assert [len(s.blocks) for s in dec.stages] == [1, 2, 1]
    rates = []
    for i, stage in enumerate(dec.stages):
        for j, block in enumerate(stage.blocks):
            msa = block.attn
            assert msa.w_msa.num_heads == 2
            assert msa.window_size == 7
            assert msa.shift_size == (0 if j % 2 == 0 else 3)
            assert msa.w_msa.embed_dims == 16 * 2**i
            assert block.ffn.layers[0][0].out_features == 4 * 16 * 2**i
            rates.append(block.ffn.dropout_layer.drop_prob)
        if i < 2:
            assert stage.downsample.reduction.out_features == 16 * 2**(i + 1)
        else:
            assert stage.downsample is None
    assert rates == pytest.approx([0., 0.1, 0.2, 0.3])
    assert [type(n).__name__ for n in dec.out_norms] == ['LayerNorm'] * 3
    assert not _decoder(out_norm=False).out_norms

    # the shared map enters the first block unchanged, as tokens
    seen = []
    dec.stages[0].blocks[0].register_forward_pre_hook(
        lambda m, args: seen.append(args[0]))
    inputs = _inputs((15, 21))
    dec(inputs)
    torch.testing.assert_close(
        seen[0], inputs[0].flatten(2).transpose(1, 2), rtol=0, atol=0)


def test_input_projection_when_channels_differ():
    dec = _decoder(in_index=1, embed_dims=8, num_heads=(1, 2, 4))
    assert dec.in_proj.conv.kernel_size == (1, 1)
    assert not dec.in_proj.with_norm and not dec.in_proj.with_activation
    seen = []
    dec.stages[0].blocks[0].register_forward_pre_hook(
        lambda m, args: seen.append(args[0]))
    inputs = _inputs((24, 32))
    x_t, feats = dec(inputs)
    assert seen[0].shape == (2, 12 * 16, 8)
    assert x_t.shape == (2, 16, 12, 16)
    assert [f.shape[1] for f in feats] == [8, 16, 32] == dec.pyramid_channels
    assert [f.shape[2:] for f in feats] == [(12, 16), (6, 8), (3, 4)]


@pytest.mark.parametrize('kwargs', [
    dict(pyramid='lateral'),
    dict(pyramid='fused'),
    dict(in_index=2, embed_dims=8, drop_path_rate=0.1),
])
def test_trainable_end_to_end(kwargs):
    dec = _decoder(**kwargs)
    dec.init_weights()
    dec.train()
    inputs = [x.requires_grad_() for x in _inputs((15, 21))]
    torch.manual_seed(2)
    x_t, feats = dec(inputs)
    loss = (x_t * torch.randn_like(x_t)).sum()
    loss = loss + sum((f * torch.randn_like(f)).sum() for f in feats)
    loss.backward()
    for name, p in dec.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert inputs[dec.in_index].grad.abs().sum() > 0


def test_build_from_config():
    cfg = dict(type='SwinTaskDecoder', in_channels=[16, 32, 64, 128],
               channels=16, in_index=0, embed_dims=16, depths=(1, 2, 1),
               num_heads=(2, 2, 2), window_size=7, pyramid='lateral',
               norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'),
               align_corners=False,
               fusion=dict(upsample_mode='nearest', norm_cfg=None,
                           act_cfg=None))
    dec = MODELS.build(copy.deepcopy(cfg))
    assert isinstance(dec, SwinTaskDecoder)
    assert isinstance(dec.fusion, FPNFusion)
    assert dec.fusion.upsample_mode == 'nearest'
    x_t, feats = dec(_inputs((24, 32)))
    assert x_t.shape == (2, 16, 24, 32)
    assert [f.shape[1] for f in feats] == dec.pyramid_channels == [16, 32, 64]
    # a fused pyramid with another width and a normalized fusion
    cfg.update(channels=8, pyramid='fused',
               fusion=dict(type='FPNFusion', norm_cfg=dict(type='BN'),
                           act_cfg=dict(type='ReLU')))
    dec = MODELS.build(cfg)
    x_t, feats = dec(_inputs((24, 32)))
    assert x_t.shape == (2, 8, 24, 32)
    assert [f.shape[1] for f in feats] == dec.pyramid_channels == [8] * 3


@pytest.mark.parametrize('kwargs, match', [
    (dict(depths=(1, 2), num_heads=(2, 2, 2)), 'depths.*num_heads'),
    (dict(depths=()), 'depths'),
    (dict(depths=(1, 0, 1)), 'depths'),
    (dict(num_heads=(2, 3, 2)), 'num_heads'),
    (dict(pyramid='top_down'), 'pyramid'),
    (dict(in_index=4), 'in_index'),
    (dict(window_size=0), 'window_size'),
    (dict(fusion=dict(in_channels=[1, 2, 3])), 'fusion.in_channels'),
    (dict(pyramid='fused', fusion=dict(all_levels=False)), 'all_levels'),
])
def test_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _decoder(**kwargs)


def test_input_errors():
    dec = _decoder()
    with pytest.raises(ValueError, match='4 feature maps'):
        dec(_inputs((8, 8))[:2])
    bad = _inputs((8, 8))
    bad[0] = torch.randn(2, 8, 8, 8)
    with pytest.raises(ValueError, match='channels'):
        dec(bad)


def _task_decoder_inputs():
    g = torch.Generator().manual_seed(3)
    return [torch.randn(2, c, 16 // 2**i, 16 // 2**i, generator=g)
            for i, c in enumerate([8, 16, 32, 64])]


def _top_down(dec, inputs, mode):
    """TaskDecoder's arithmetic written out: per-scale stages, top-down sum
    (``mode`` upsampling), the 3x3 conv on the finest sum."""
    feats = [stage(x) for stage, x in zip(dec.stages, inputs)]
    fused = feats[-1]
    for feat in reversed(feats[:-1]):
        if mode == 'nearest':
            up = F.interpolate(fused, size=feat.shape[2:], mode='nearest')
        else:
            up = F.interpolate(fused, size=feat.shape[2:], mode='bilinear',
                               align_corners=dec.align_corners)
        fused = feat + up
    return dec.fpn_conv(fused)


def test_task_decoder_fuse_mode():
    inputs = _task_decoder_inputs()
    torch.manual_seed(0)
    default = TaskDecoder([8, 16, 32, 64], channels=8).eval()
    torch.manual_seed(0)
    nearest = TaskDecoder([8, 16, 32, 64], channels=8,
                          fuse_mode='nearest').eval()
    assert default.pyramid_channels == nearest.pyramid_channels == [8] * 4
    with torch.no_grad():
        x_default, _ = default(inputs)
        x_nearest, _ = nearest(inputs)
        torch.testing.assert_close(
            x_default, _top_down(default, inputs, 'bilinear'), rtol=0,
            atol=0)
        torch.testing.assert_close(
            x_nearest, _top_down(nearest, inputs, 'nearest'), rtol=0,
            atol=0)
    assert not torch.allclose(x_default, x_nearest)
    with pytest.raises(ValueError, match='fuse_mode'):
        TaskDecoder([8], channels=8, fuse_mode='area')
