"""The Mask2Former trunk of the released MT-CP code
(``Mask2FormerSharedRepresentation``): the same shared map as mmseg's own
Mask2Former and as Hugging Face's model the release runs, mmseg's checkpoint
keys, and strict loading through the safe checkpoint loader."""
import os.path as osp
import re

import mmseg
import pytest
import torch
from mmengine.config import Config, ConfigDict

from mmmtcp.models import Mask2FormerSharedRepresentation
from mmmtcp.utils import CheckpointMismatchError, UnsafeCheckpointError
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from test_multi_task_segmentor import make_batch
from tiny_mask2former import (C, LAYERS, QUERIES, TASKS, WIDTHS,
                              hf_mask2former, neck_cfg, pixel_decoder_cfg,
                              release_shared_map, segmentor, swin_cfg,
                              transformer_decoder_cfg)
from tool_runs import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _mmseg_mask2former(num_classes=3):
    """mmseg's own Mask2Former (EncoderDecoder + Mask2FormerHead), tiny."""
    head = dict(
        type='Mask2FormerHead', in_channels=WIDTHS, strides=[4, 8, 16, 32],
        feat_channels=C, out_channels=C, num_classes=num_classes,
        num_queries=QUERIES, num_transformer_feat_level=3,
        align_corners=False, pixel_decoder=pixel_decoder_cfg(),
        enforce_decoder_input_project=False,
        positional_encoding=dict(num_feats=C // 2, normalize=True),
        transformer_decoder=transformer_decoder_cfg(),
        loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False,
                      loss_weight=2.0, reduction='mean',
                      class_weight=[1.0] * num_classes + [0.1]),
        loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True,
                       reduction='mean', loss_weight=5.0),
        loss_dice=dict(type='mmdet.DiceLoss', use_sigmoid=True,
                       activate=True, reduction='mean', naive_dice=True,
                       eps=1.0, loss_weight=5.0))
    # mmdet's head reads its nested configs as attributes (ConfigDict)
    model = MODELS.build(ConfigDict(
        type='EncoderDecoder', backbone=swin_cfg(type='SwinTransformer'),
        decode_head=head))
    model.init_weights()
    # the initialized model has all-zero biases and unit norms; make every
    # weight count
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _trunk(checkpoint, neck=None, backbone=None):
    """A MultiTaskSegmentor whose trunk loads ``checkpoint`` through the
    ``Pretrained`` init_cfg of the backbone and of the neck."""
    neck = neck or neck_cfg(init_cfg=dict(
        type='Pretrained', checkpoint=checkpoint, prefix='decode_head.'))
    backbone = backbone or swin_cfg(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                      prefix='backbone.'))
    return segmentor(backbone, neck)


@pytest.fixture(scope='module')
def mask2former(tmp_path_factory):
    """mmseg's tiny Mask2Former and its checkpoint file (as the Runner
    saves it: ``meta`` and ``state_dict``)."""
    torch.manual_seed(0)
    model = _mmseg_mask2former()
    path = str(tmp_path_factory.mktemp('m2f') / 'mask2former_tiny.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return model, path


def _reference(model, images):
    """The release's shared map from mmseg's Mask2Former's own modules:
    mask features times the summed mask logits of the last decoder
    layer."""
    feats = model.backbone(images)
    head = model.decode_head
    mask_features, _ = head.pixel_decoder(feats)
    _, mask_logits = head(feats, [SegDataSample() for _ in images])
    assert len(mask_logits) == LAYERS + 1
    return mask_features * mask_logits[-1].sum(1, keepdim=True)


def test_trunk_matches_mmseg_mask2former(mask2former):
    reference, path = mask2former
    model = _trunk(path).eval()
    ref_state = reference.state_dict()
    for name, value in model.backbone.state_dict().items():
        torch.testing.assert_close(value, ref_state['backbone.' + name],
                                   rtol=0, atol=0)
    neck_state = model.neck.state_dict()
    assert set('decode_head.' + k for k in neck_state) == {
        k for k in ref_state
        if k.startswith('decode_head.') and 'cls_embed' not in k}
    for name, value in neck_state.items():
        torch.testing.assert_close(value, ref_state['decode_head.' + name],
                                   rtol=0, atol=0)
    g = torch.Generator().manual_seed(1)
    for hw in [(64, 64), (96, 128)]:
        images = torch.randn(2, 3, *hw, generator=g)
        with torch.no_grad():
            expected = _reference(reference, images)
            (shared, ) = model.extract_feat(images)
        assert shared.shape == (2, C, hw[0] // 4, hw[1] // 4)
        assert expected.abs().max() > 1  # not a vanishing map
        torch.testing.assert_close(shared, expected, rtol=0, atol=1e-4)


def test_every_trunk_weight_is_trained(mask2former):
    """A multi-task head reads the one map (``in_index=[0]``) and its
    losses reach every weight of the trunk (none unused, as
    DistributedDataParallel requires)."""
    _, path = mask2former
    model = _trunk(path).train()
    data = model.data_preprocessor(
        make_batch(TASKS, [(64, 64), (64, 64)]), True)
    losses = model(**data, mode='loss')
    assert {'loss_semseg', 'loss_depth'} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for name, p in list(model.backbone.named_parameters()) + list(
            model.neck.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_other_architecture_is_refused_naming_the_file(tmp_path):
    resnet = MODELS.build(dict(type='ResNetV1c', depth=18, stem_channels=8,
                               base_channels=8))
    path = str(tmp_path / 'resnet18_plain.pth')
    torch.save(resnet.state_dict(), path)
    # the backbone, initialized first, refuses it
    with pytest.raises(CheckpointMismatchError) as info:
        _trunk(path)
    message = str(info.value)
    assert path in message
    assert 'not a checkpoint of StrictSwinTransformer' in message
    assert "under 'backbone.'" in message and "'stem.'" in message
    # and so does the neck on its own
    neck = MODELS.build(neck_cfg(init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='decode_head.')))
    with pytest.raises(CheckpointMismatchError) as info:
        neck.init_weights()
    message = str(info.value)
    assert path in message
    assert 'not a checkpoint of Mask2FormerSharedRepresentation' in message
    assert "under 'decode_head.'" in message and "'stem.'" in message


def test_backbone_weights_load_strictly(mask2former, tmp_path):
    """mmseg's SwinTransformer would log a missing or misshapen backbone
    weight and train it from random values; the trunk's Swin refuses the
    checkpoint, naming the file and the weights."""
    _, path = mask2former
    state = torch.load(path, weights_only=True)['state_dict']
    lacking = {k: v for k, v in state.items()
               if not k.startswith('backbone.stages.3.')}
    lacking_path = str(tmp_path / 'no_last_stage.pth')
    torch.save(dict(state_dict=lacking), lacking_path)
    swin = MODELS.build(swin_cfg(init_cfg=dict(
        type='Pretrained', checkpoint=lacking_path, prefix='backbone.')))
    with pytest.raises(CheckpointMismatchError,
                       match=re.escape(lacking_path) +
                       r'.*weights of StrictSwinTransformer are missing'
                       r'.*stages\.3\.'):
        swin.init_weights()
    # a Swin of another depth than the checkpoint's
    deeper = MODELS.build(swin_cfg(depths=(1, 1, 2, 1), init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='backbone.')))
    with pytest.raises(CheckpointMismatchError,
                       match=r'stages\.2\.blocks\.1\.'):
        deeper.init_weights()
    with pytest.raises(ValueError, match='takes checkpoint'):
        MODELS.build(swin_cfg(init_cfg=dict(type='Pretrained',
                                            checkpoint=path, strict=False)))
    # without a checkpoint: mmseg's initialization
    MODELS.build(swin_cfg()).init_weights()


def test_missing_unexpected_and_misshapen_weights_are_listed(
        mask2former, tmp_path):
    _, path = mask2former
    checkpoint = torch.load(path, weights_only=True)
    state = checkpoint['state_dict']
    lacking = dict(state)
    removed = ['decode_head.query_feat.weight',
               'decode_head.transformer_decoder.layers.1.ffn.layers.1.bias']
    for key in removed:
        del lacking[key]
    missing_path = str(tmp_path / 'lacking.pth')
    torch.save(dict(state_dict=lacking), missing_path)
    with pytest.raises(CheckpointMismatchError) as info:
        _trunk(missing_path)
    message = str(info.value)
    assert missing_path in message and '2 weights of' in message
    for key in removed:
        assert key[len('decode_head.'):] in message
    # a neck configured with fewer decoder layers than the checkpoint
    short = neck_cfg(num_layers=LAYERS - 1, init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='decode_head'))
    with pytest.raises(CheckpointMismatchError,
                       match=r'not in Mask2FormerSharedRepresentation: '
                       r'transformer_decoder\.layers\.3\.'):
        _trunk(path, neck=short)
    # more queries than the checkpoint's
    wide = neck_cfg(init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='decode_head.'))
    wide['num_queries'] = QUERIES + 1
    with pytest.raises(CheckpointMismatchError,
                       match=re.escape(f'query_embed.weight ({QUERIES}, {C})'
                                       f' (model ({QUERIES + 1}, {C}))')):
        _trunk(path, neck=wide)


class _NotAWeight:
    pass


def test_checkpoint_goes_through_the_safe_loader(mask2former, tmp_path):
    _, path = mask2former
    checkpoint = torch.load(path, weights_only=True)
    checkpoint['meta'] = dict(payload=_NotAWeight())
    unsafe = str(tmp_path / 'unsafe.pth')
    torch.save(checkpoint, unsafe)
    neck = MODELS.build(neck_cfg(init_cfg=dict(
        type='Pretrained', checkpoint=unsafe, prefix='decode_head.')))
    with pytest.raises(UnsafeCheckpointError, match=re.escape(unsafe)):
        neck.init_weights()


def test_pretrained_init_cfg_keys_are_checked(mask2former):
    """The neck and the Swin read the same ``Pretrained`` keys and refuse
    others (mmengine's ``strict=False``, say) or a missing checkpoint."""
    _, path = mask2former
    neck = MODELS.build(neck_cfg(init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='decode_head.',
        strict=False)))
    with pytest.raises(ValueError, match=r'Mask2FormerSharedRepresentation: '
                       r'`Pretrained` init_cfg takes checkpoint \(required\)'
                       r".*'strict'"):
        neck.init_weights()
    with pytest.raises(ValueError, match=r'StrictSwinTransformer: '
                       r'`Pretrained` init_cfg takes checkpoint'):
        MODELS.build(swin_cfg(init_cfg=dict(type='Pretrained',
                                            prefix='backbone.')))


def test_neck_arguments_are_checked():
    with pytest.raises(ValueError, match='num_transformer_feat_level'):
        MODELS.build(neck_cfg(num_transformer_feat_level=2))
    with pytest.raises(ValueError, match='strides'):
        MODELS.build(neck_cfg(strides=(4, 8, 16)))
    cfg = neck_cfg()
    cfg['pixel_decoder']['feat_channels'] = 64
    with pytest.raises(ValueError, match='pixel_decoder.feat_channels'):
        MODELS.build(cfg)
    neck = MODELS.build(neck_cfg())
    assert isinstance(neck, Mask2FormerSharedRepresentation)
    with pytest.raises(ValueError, match='expects 4 feature maps'):
        neck([torch.zeros(1, 16, 8, 8)])


def test_published_mask2former_swin_s_checkpoint_keys():
    """The trunk config (configs/_base_/backbones/mask2former_swin_s.py) has
    the weights of mmseg's mask2former_swin-s_8xb2-160k_ade20k: its Swin-S
    is configured as mmseg's, and its neck has the ``decode_head.*``
    weights but the class head, with their shapes (built on the meta
    device: nothing is allocated or downloaded)."""
    mm_cfg = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs',
                      'mask2former',
                      'mask2former_swin-s_8xb2-160k_ade20k-512x512.py')
    if not osp.isfile(mm_cfg):
        pytest.skip('mmseg was installed without its configs')
    published = Config.fromfile(mm_cfg).model
    trunk = Config.fromfile(
        osp.join(ROOT, 'configs', '_base_', 'backbones',
                 'mask2former_swin_s.py')).mask2former_swin_s

    def plain(cfg):
        cfg = cfg.to_dict()
        for key in ('type', 'init_cfg', 'pretrained'):
            cfg.pop(key, None)
        return cfg

    # mmseg's Swin-S (loading its weights strictly)
    assert (trunk.backbone.type, published.backbone.type) == (
        'StrictSwinTransformer', 'SwinTransformer')
    assert plain(trunk.backbone) == plain(published.backbone)
    assert trunk.backbone.init_cfg.prefix == 'backbone.'
    with torch.device('meta'):
        head = MODELS.build(published.decode_head)
        neck = MODELS.build(trunk.neck)
    expected = {k: tuple(v.shape) for k, v in head.state_dict().items()
                if not k.startswith('cls_embed.')}
    assert {k: tuple(v.shape)
            for k, v in neck.state_dict().items()} == expected
    assert expected['query_feat.weight'] == (100, 256)
    assert expected['pixel_decoder.input_convs.0.conv.weight'] == (256, 768,
                                                                   1, 1)
    assert neck.init_cfg['prefix'] == 'decode_head.'
    assert neck.init_cfg['checkpoint'] == trunk.backbone.init_cfg[
        'checkpoint']
    assert osp.basename(neck.init_cfg['checkpoint']).startswith(
        osp.basename(mm_cfg)[:-len('.py')])


# --------------------------------------------------------------------------
# Hugging Face's Mask2Former, which the release runs


def test_release_map_of_hugging_face_mask2former():
    """On the backbone features of Hugging Face's Mask2Former the neck
    computes the release's ``einsum('bnhw, bdhw -> bdhw',
    masks_queries_logits, pixel_decoder_last_hidden_state)`` with the
    same weights."""
    pytest.importorskip('transformers')
    converter = load_tool('model_converters/hf_mask2former2mmmtcp')
    hf = hf_mask2former()
    converted, _ = converter.convert_state_dict(hf.state_dict())
    # Hugging Face's deformable attention samples 4 points per level
    neck = MODELS.build(neck_cfg(num_points=4))
    neck.load_state_dict(
        {k[len('decode_head.'):]: v for k, v in converted.items()
         if k.startswith('decode_head.')}, strict=True)
    neck.eval()
    g = torch.Generator().manual_seed(2)
    for hw in [(64, 64), (96, 128)]:
        images = torch.randn(2, 3, *hw, generator=g)
        with torch.no_grad():
            out = hf(pixel_values=images, output_hidden_states=True)
            release = release_shared_map(out)
            feats = hf.model.pixel_level_module.encoder(
                images).feature_maps
            mask_features, mask_logits = neck.mask_predictions(feats)
            (shared, ) = neck(feats)
        torch.testing.assert_close(mask_features,
                                   out.pixel_decoder_last_hidden_state,
                                   rtol=0, atol=1e-5)
        # the last decoder layer's masks, not an earlier layer's
        torch.testing.assert_close(mask_logits[-1], out.masks_queries_logits,
                                   rtol=0, atol=1e-4)
        assert not torch.allclose(
            mask_logits[-2], out.masks_queries_logits, atol=1e-2)
        assert release.abs().max() > 0.1
        torch.testing.assert_close(shared, release, rtol=0, atol=1e-4)
