"""Tiny Mask2Former trunks for the tests: mmseg's Swin and the
``Mask2FormerSharedRepresentation`` neck at small widths, the multi-task
segmentor around them, and a randomly initialized Hugging Face
``Mask2FormerForUniversalSegmentation`` of the same widths (built from a
config, nothing downloaded)."""
import torch

from mmseg.registry import MODELS

WIDTHS = [16, 32, 64, 128]  # the tiny Swin's 4 stages
C = 32  # pixel decoder, queries and mask features
QUERIES = 5
LAYERS = 4  # transformer decoder layers: the 3 levels, then the first again
TASKS = ['semseg', 'depth']
SEMSEG_CLASSES = 5


def pixel_decoder_cfg(num_points=2):
    return dict(
        type='mmdet.MSDeformAttnPixelDecoder',
        num_outs=3,
        norm_cfg=dict(type='GN', num_groups=32),  # as mmseg's and HF's
        act_cfg=dict(type='ReLU'),
        encoder=dict(
            num_layers=1,
            layer_cfg=dict(
                self_attn_cfg=dict(
                    embed_dims=C, num_heads=2, num_levels=3,
                    num_points=num_points, im2col_step=64, dropout=0.0,
                    batch_first=True, norm_cfg=None, init_cfg=None),
                ffn_cfg=dict(
                    embed_dims=C, feedforward_channels=2 * C, num_fcs=2,
                    ffn_drop=0.0, act_cfg=dict(type='ReLU', inplace=True))),
            init_cfg=None),
        positional_encoding=dict(num_feats=C // 2, normalize=True),
        init_cfg=None)


def transformer_decoder_cfg(num_layers=LAYERS):
    attn = dict(embed_dims=C, num_heads=2, attn_drop=0.0, proj_drop=0.0,
                dropout_layer=None, batch_first=True)
    return dict(
        return_intermediate=True,
        num_layers=num_layers,
        layer_cfg=dict(
            self_attn_cfg=attn,
            cross_attn_cfg=attn,
            ffn_cfg=dict(
                embed_dims=C, feedforward_channels=2 * C, num_fcs=2,
                act_cfg=dict(type='ReLU', inplace=True), ffn_drop=0.0,
                dropout_layer=None, add_identity=True)),
        init_cfg=None)


def swin_cfg(depths=(1, 1, 1, 1), type='StrictSwinTransformer', **kwargs):
    """The trunk's Swin (mmseg's ``SwinTransformer`` loading pretrained
    weights strictly; ``type='SwinTransformer'``: mmseg's own) at
    :data:`WIDTHS`, window 7."""
    return dict(type=type, embed_dims=WIDTHS[0],
                depths=tuple(depths), num_heads=(1, 2, 4, 8), window_size=7,
                out_indices=(0, 1, 2, 3), **kwargs)


def neck_cfg(num_points=2, num_layers=LAYERS, **kwargs):
    """``Mask2FormerSharedRepresentation`` on :func:`swin_cfg`'s maps."""
    return dict(
        type='Mask2FormerSharedRepresentation', in_channels=WIDTHS,
        feat_channels=C, out_channels=C, num_queries=QUERIES,
        pixel_decoder=pixel_decoder_cfg(num_points),
        positional_encoding=dict(num_feats=C // 2, normalize=True),
        transformer_decoder=transformer_decoder_cfg(num_layers), **kwargs)


def segmentor(backbone, neck):
    """A MultiTaskSegmentor (baseline head on the neck's one map) with
    ``backbone`` and ``neck``, initialized (``Pretrained`` init_cfgs
    load)."""
    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor',
                               mean=[0, 0, 0], std=[255, 255, 255]),
        backbone=backbone,
        neck=neck,
        decode_head=dict(
            type='MultiTaskBaselineHead', tasks=TASKS,
            num_classes=dict(semseg=SEMSEG_CLASSES),
            in_channels=[C], in_index=[0],
            channels=8, decoder=dict(num_convs=1))))
    model.init_weights()
    return model


def hf_mask2former(depths=(1, 1, 1, 1), seed=0):
    """Hugging Face's Mask2Former at the widths of :func:`swin_cfg` and
    :func:`neck_cfg` with ``num_points=4`` (Hugging Face's deformable
    attention samples 4 points per level), every weight perturbed, in eval
    mode."""
    import transformers
    torch.manual_seed(seed)
    cfg = transformers.Mask2FormerConfig(
        backbone_config=transformers.SwinConfig(
            embed_dim=WIDTHS[0], depths=list(depths),
            num_heads=[1, 2, 4, 8], window_size=7,
            out_features=['stage1', 'stage2', 'stage3', 'stage4']),
        feature_size=C, mask_feature_size=C, hidden_dim=C,
        encoder_feedforward_dim=2 * C, dim_feedforward=2 * C,
        encoder_layers=1, decoder_layers=LAYERS + 1, num_queries=QUERIES,
        num_attention_heads=2, num_labels=3, use_pretrained_backbone=False)
    model = transformers.Mask2FormerForUniversalSegmentation(cfg).eval()
    # the initialized model has all-zero biases and unit norms; make every
    # weight count
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def hf_trunk(depths=(1, 1, 1, 1)):
    """The trunk (``backbone``, ``neck`` configs) of
    :func:`hf_mask2former`."""
    return dict(backbone=swin_cfg(depths), neck=neck_cfg(num_points=4))


def release_shared_map(hf_outputs):
    """The released MT-CP's shared map from a Hugging Face Mask2Former's
    outputs (its ``models_nyud_CL.py``, verbatim)."""
    return torch.einsum('bnhw, bdhw -> bdhw', hf_outputs.masks_queries_logits,
                        hf_outputs.pixel_decoder_last_hidden_state)
