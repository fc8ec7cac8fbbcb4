# MT-CP, ViT-S/16 (mmpretrain arch 'deit-small'), same recipe as the
# ViT-L config.
_base_ = ['./mtcp_vitl_nyud.py']
# ImageNet-21k ViT-S/16 weights (timm `vit_small_patch16_384`) converted to
# mmpretrain's key names; mmpretrain ships no such checkpoint, so give a
# local file here.
pretrained = 'pretrain/vit-small-p16_in21k-384.pth'
model = dict(
    backbone=dict(
        arch='deit-small',
        out_indices=(2, 5, 8, 11),
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(
        in_channels=[384, 384, 384, 384],
        out_channels=[96, 192, 384, 384]),
    decode_head=dict(in_channels=[96, 192, 384, 384]))
