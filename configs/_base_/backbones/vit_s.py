# ViT-S/16 (mmpretrain arch 'deit-small') in place of the ViT-L/16 of an
# MT-CP ViT config: a config inherits its ViT-L config and this file and
# sets `model = _base_.vit_s`. ImageNet-21k ViT-S/16 weights (timm
# `vit_small_patch16_384`) converted to mmpretrain's key names; mmpretrain
# ships no such checkpoint, so give a local file here. Layers 3/6/9/12 are
# the pyramid.
vit_s = dict(
    backbone=dict(
        arch='deit-small',
        out_indices=(2, 5, 8, 11),
        init_cfg=dict(checkpoint='pretrain/vit-small-p16_in21k-384.pth')),
    neck=dict(
        in_channels=[384, 384, 384, 384], out_channels=[96, 192, 384, 384]),
    decode_head=dict(in_channels=[96, 192, 384, 384]))
