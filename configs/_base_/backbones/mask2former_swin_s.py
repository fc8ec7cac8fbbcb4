# The trunk of the released MT-CP code (Klodivio355/MT-CP,
# models/models_nyud_CL.py): a whole Mask2Former with a Swin-S backbone,
# trained for ADE20K semantic segmentation, whose ONE shared 1/4 map (the
# pixel decoder's 256 mask features times the summed mask logits of the
# last transformer decoder layer's 100 queries) every task decoder reads.
# mmseg's Swin-S (`StrictSwinTransformer`: mmseg's `SwinTransformer` that
# loads its weights strictly) and `Mask2FormerSharedRepresentation` (mmdet's
# pixel decoder and transformer decoder) at the widths of mmseg's
# mask2former_swin-s_8xb2-160k_ade20k-512x512, whose checkpoint they load,
# both strictly: `backbone.*` into the Swin, `decode_head.*` into the neck
# (but the class head, which the trunk does not use). The release loads
# Hugging Face's facebook/mask2former-swin-small-ade-semantic instead: the
# same architecture, trained by the Mask2Former authors;
# tools/model_converters/hf_mask2former2mmmtcp.py converts it to this
# checkpoint's names (set both init_cfg checkpoints to the output, e.g.
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
# model.neck.init_cfg.checkpoint=PATH).
# A config inherits this file and merges `mask2former_swin_s` into `model`
# (`model = _base_.mask2former_swin_s`; over a base whose model has another
# backbone or neck already, add `_delete_=True` to each); the multi-task
# head then reads the one map with `in_channels=[256]`, `in_index=[0]`.
mask2former_checkpoint = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/mask2former/'
    'mask2former_swin-s_8xb2-160k_ade20k-512x512/'
    'mask2former_swin-s_8xb2-160k_ade20k-512x512_20221204_143905-e715144e.pth')
mask2former_swin_s = dict(
    backbone=dict(
        type='StrictSwinTransformer',
        embed_dims=96,
        depths=[2, 2, 18, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        frozen_stages=-1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=mask2former_checkpoint,
            prefix='backbone.')),
    neck=dict(
        type='Mask2FormerSharedRepresentation',
        in_channels=[96, 192, 384, 768],
        strides=[4, 8, 16, 32],
        feat_channels=256,
        out_channels=256,
        num_queries=100,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=mask2former_checkpoint,
            prefix='decode_head.')),
    decode_head=dict(in_channels=[256], in_index=[0]))
