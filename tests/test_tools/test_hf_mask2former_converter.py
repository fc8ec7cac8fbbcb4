"""tools/model_converters/hf_mask2former2mmmtcp.py: Hugging Face's
Mask2Former (the model the released code runs) converted to the trunk's
checkpoint computes the release's shared map in mmmtcp's trunk (mmseg's Swin
and ``Mask2FormerSharedRepresentation``, loaded through their ``Pretrained``
init_cfgs); a checkpoint of another architecture, with weights missing or
of another size is refused by name and nothing is written."""
import os
import os.path as osp

import pytest
import torch

from mmmtcp.utils import CheckpointMismatchError, safe_torch_load
from mmseg.registry import MODELS
from tiny_mask2former import (C, hf_mask2former, hf_trunk,
                              release_shared_map, segmentor)
from tool_runs import ROOT, load_tool, run

pytest.importorskip('transformers')
safetensors_torch = pytest.importorskip('safetensors.torch')

TOOL = 'tools/model_converters/hf_mask2former2mmmtcp.py'
converter = load_tool('model_converters/hf_mask2former2mmmtcp')
#: a stage of 2 blocks: windows and shifted windows
DEPTHS = (1, 1, 2, 1)
DROPPED = ['class_predictor.bias', 'class_predictor.weight',
           'criterion.empty_weight']


@pytest.fixture(scope='module')
def release(tmp_path_factory):
    """A tiny random Hugging Face Mask2Former, its weights as
    ``pytorch_model.bin`` and ``model.safetensors``, and a config of the
    trunk of its widths."""
    hf = hf_mask2former(DEPTHS)
    root = tmp_path_factory.mktemp('hf')
    state = hf.state_dict()
    torch.save(state, str(root / 'pytorch_model.bin'))
    safetensors_torch.save_file({k: v.contiguous()
                                 for k, v in state.items()},
                                str(root / 'model.safetensors'))
    trunk = hf_trunk(DEPTHS)
    config = root / 'tiny_trunk.py'
    config.write_text(f'model = dict(backbone={trunk["backbone"]!r},\n'
                      f'             neck={trunk["neck"]!r})\n')
    return hf, root, trunk, str(config)


@pytest.fixture(scope='module')
def converted(release, tmp_path_factory):
    """The .bin converted by the command line (for the trunk of a config
    file), the .safetensors by the function (for a trunk given as a
    dict)."""
    _, root, trunk, config = release
    out = tmp_path_factory.mktemp('out')
    from_bin = str(out / 'm2f_tiny_hf.pth')
    result = run([TOOL, str(root / 'pytorch_model.bin'), from_bin,
                  '--config', config], cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    from_st = str(out / 'm2f_tiny_hf_st.pth')
    meta = converter.convert_checkpoint(
        str(root / 'model.safetensors'), from_st, trunk=trunk)
    return from_bin, from_st, result.stdout, meta, out


def test_both_formats_convert_to_the_same_checkpoint(converted, release):
    from_bin, from_st, stdout, meta, out = converted
    assert stdout.strip().splitlines()[-1] == from_bin
    assert 'dropped 3 weights' in stdout
    assert sorted(os.listdir(out)) == ['m2f_tiny_hf.pth',
                                       'm2f_tiny_hf_st.pth']  # no temp file
    a, b = safe_torch_load(from_bin), safe_torch_load(from_st)
    assert a['meta']['dropped'] == b['meta']['dropped'] == DROPPED
    assert meta['architecture'] == dict(
        embed_dims=16, depths=list(DEPTHS), num_heads=[1, 2, 4, 8],
        window_size=7, num_queries=5, feat_channels=C, decoder_layers=4,
        pixel_decoder_layers=1)
    assert list(a['state_dict']) == list(b['state_dict'])
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    assert {k.split('.', 1)[0] for k in a['state_dict']} == {
        'backbone', 'decode_head'}
    # the folder reads the same weights; a checkpoint without Swin's
    # relative position index buffers gets them
    hf, root, _, _ = release
    state = converter.read_hf_state_dict(str(root))
    assert set(state) == set(hf.state_dict())
    without = {k: v for k, v in state.items()
               if not k.endswith('relative_position_index')}
    again, _ = converter.convert_state_dict(without)
    assert list(again) == list(a['state_dict'])
    for key, value in again.items():
        assert torch.equal(value, a['state_dict'][key]), key


def test_command_line_on_the_downloaded_folder(converted, release, tmp_path):
    """As the README runs it: the folder of a Hugging Face download (here
    both files; the safetensors one is read) to a checkpoint in a folder
    that does not exist yet."""
    _, root, _, config = release
    dst = str(tmp_path / 'checkpoints' / 'm2f_swin_hf.pth')
    result = run([TOOL, str(root), dst, '--config', config], cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.strip().splitlines()[-1] == dst
    ours, expected = safe_torch_load(dst), safe_torch_load(converted[1])
    assert list(ours['state_dict']) == list(expected['state_dict'])
    for key, value in ours['state_dict'].items():
        assert torch.equal(value, expected['state_dict'][key]), key


def test_converted_trunk_computes_the_release_map(converted, release):
    """The trunk loading the converted checkpoint through its
    ``Pretrained`` init_cfgs (as mmseg's checkpoint) gives Hugging Face's
    Swin features and the release's ``einsum('bnhw, bdhw -> bdhw',
    masks_queries_logits, pixel_decoder_last_hidden_state)`` on the same
    tensor (no preprocessing on either side)."""
    hf, _, trunk, _ = release
    path = converted[0]
    model = segmentor(
        dict(trunk['backbone'],
             init_cfg=dict(type='Pretrained', checkpoint=path,
                           prefix='backbone.')),
        dict(trunk['neck'],
             init_cfg=dict(type='Pretrained', checkpoint=path,
                           prefix='decode_head.'))).eval()
    g = torch.Generator().manual_seed(3)
    for hw in [(64, 64), (96, 128)]:
        images = torch.randn(2, 3, *hw, generator=g)
        with torch.no_grad():
            out = hf(pixel_values=images, output_hidden_states=True)
            release_map = release_shared_map(out)
            feats = model.backbone(images)
            mask_features, mask_logits = model.neck.mask_predictions(feats)
            (shared, ) = model.extract_feat(images)
        assert len(feats) == len(out.encoder_hidden_states) == 4
        for i, (ours, theirs) in enumerate(
                zip(feats, out.encoder_hidden_states)):
            torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4,
                                       msg=lambda m: f'Swin stage {i}: {m}')
        torch.testing.assert_close(feats[-1], out.encoder_last_hidden_state,
                                   rtol=0, atol=1e-4)
        torch.testing.assert_close(mask_features,
                                   out.pixel_decoder_last_hidden_state,
                                   rtol=0, atol=1e-4)
        torch.testing.assert_close(mask_logits[-1], out.masks_queries_logits,
                                   rtol=0, atol=1e-4)
        assert shared.shape == (2, C, hw[0] // 4, hw[1] // 4)
        assert release_map.abs().max() > 0.1
        torch.testing.assert_close(shared, release_map, rtol=0, atol=1e-4)
    # the patch-merging reorder is needed: Hugging Face's order of the
    # merged channels gives other features from the second stage on
    raw = hf.state_dict()
    prefix = 'model.pixel_level_module.encoder.encoder.layers.0.downsample.'
    merging = model.backbone.stages[0].downsample
    with torch.no_grad():
        merging.reduction.weight.copy_(raw[prefix + 'reduction.weight'])
        merging.norm.weight.copy_(raw[prefix + 'norm.weight'])
        merging.norm.bias.copy_(raw[prefix + 'norm.bias'])
        unordered = model.backbone(images)
    torch.testing.assert_close(unordered[0], feats[0], rtol=0, atol=0)
    assert not torch.allclose(unordered[1], feats[1], atol=1e-2)


def _assert_nothing_written(out_dir, expected=()):
    assert sorted(os.listdir(out_dir)) == sorted(expected)


def test_other_architecture_is_refused_naming_the_file(tmp_path, release):
    resnet = MODELS.build(dict(type='ResNetV1c', depth=18, stem_channels=8,
                               base_channels=8))
    path = str(tmp_path / 'resnet18_plain.pth')
    torch.save(resnet.state_dict(), path)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    with pytest.raises(CheckpointMismatchError) as info:
        converter.convert_checkpoint(path, str(out_dir / 'x.pth'),
                                     trunk=release[2])
    message = str(info.value)
    assert path in message
    assert 'is not a Hugging Face Mask2Former checkpoint' in message
    assert "'stem.'" in message
    _assert_nothing_written(out_dir)


def test_missing_weights_are_listed_and_nothing_is_written(
        tmp_path, release):
    hf, _, trunk, _ = release
    state = dict(hf.state_dict())
    enc = 'model.pixel_level_module.encoder.'
    for key in (enc + 'hidden_states_norms.stage2.weight',
                enc + 'encoder.layers.2.blocks.1.attention.self.key.weight',
                'model.transformer_module.decoder.layers.1.fc1.bias'):
        del state[key]
    path = str(tmp_path / 'lacking.bin')
    torch.save(state, path)
    dst = tmp_path / 'out' / 'lacking.pth'
    dst.parent.mkdir()
    dst.write_bytes(b'an earlier conversion')
    with pytest.raises(CheckpointMismatchError) as info:
        converter.convert_checkpoint(path, str(dst), trunk=trunk)
    message = str(info.value)
    assert path in message
    assert '3 weights of the trunk are missing after the conversion' \
        in message
    for key in ('backbone.norm1.weight',
                'backbone.stages.2.blocks.1.attn.w_msa.qkv.weight',
                'decode_head.transformer_decoder.layers.1.ffn.layers.0.0.'
                'bias'):
        assert key in message
    # an existing output is left as it was, no temporary file remains
    _assert_nothing_written(dst.parent, ['lacking.pth'])
    assert dst.read_bytes() == b'an earlier conversion'
    # a weight the conversion does not know is an error too
    state = dict(hf.state_dict())
    state['model.transformer_module.decoder.extra_norm.weight'] = \
        torch.ones(C)
    with pytest.raises(CheckpointMismatchError,
                       match=r'1 weights of the Hugging Face Mask2Former '
                       r'are not converted.*extra_norm\.weight'):
        converter.convert_state_dict(state, 'extra.bin')


def test_other_size_is_refused(tmp_path, release):
    """A checkpoint of other depths than the trunk's (a Swin-T
    Mask2Former for the Swin-S trunk): mmseg's Swin would load it
    non-strictly, leaving blocks at their initialization."""
    _, root, trunk, config = release
    shallow = hf_mask2former((1, 1, 1, 1))
    path = str(tmp_path / 'shallow.bin')
    torch.save(shallow.state_dict(), path)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    with pytest.raises(CheckpointMismatchError) as info:
        converter.convert_checkpoint(path, str(out_dir / 'x.pth'),
                                     config=config)
    message = str(info.value)
    assert path in message and 'another size' in message
    assert 'depths (1, 1, 1, 1) (trunk: (1, 1, 2, 1))' in message
    # the tiny model for the default trunk (--arch swin-s)
    with pytest.raises(CheckpointMismatchError,
                       match=r'embed_dims 16 \(trunk: 96\).*Swin-S'):
        converter.convert_checkpoint(str(root / 'pytorch_model.bin'),
                                     str(out_dir / 'x.pth'))
    _assert_nothing_written(out_dir)


def test_released_configuration_fits_the_swin_s_trunk():
    """Hugging Face's Mask2Former at the configuration of
    facebook/mask2former-swin-small-ade-semantic (the default
    ``Mask2FormerConfig``: Swin-S, 100 queries, 10 decoder layers, 6
    encoder layers; random weights, nothing downloaded) converts to every
    weight of configs/_base_/backbones/mask2former_swin_s.py, and is
    refused for the Swin-T trunk."""
    import transformers
    cfg = transformers.Mask2FormerConfig(num_labels=150,
                                         use_pretrained_backbone=False)
    assert cfg.backbone_config.depths == [2, 2, 18, 2]
    state = transformers.Mask2FormerForUniversalSegmentation(
        cfg).state_dict()
    converted_state, dropped = converter.convert_state_dict(state, 'hf.bin')
    assert dropped == DROPPED
    converter.check_against_trunk(
        converted_state,
        converter.trunk_shapes(converter.trunk_of_arch('swin-s')), 'hf.bin',
        'swin-s')
    with pytest.raises(CheckpointMismatchError,
                       match=r'Checkpoint: Swin-S .*Swin-T'):
        converter.check_against_trunk(
            converted_state,
            converter.trunk_shapes(converter.trunk_of_arch('swin-t')),
            'hf.bin', 'swin-t')


def test_tool_arguments():
    with pytest.raises(SystemExit):
        converter.parse_args(['a.bin', 'b.pth', '--arch', 'swin-s',
                              '--config', 'c.py'])
    with pytest.raises(SystemExit):
        converter.parse_args(['a.bin', 'b.pth', '--cfg-options', 'x=1'])
    assert osp.isfile(converter.TRUNK_CONFIG)
