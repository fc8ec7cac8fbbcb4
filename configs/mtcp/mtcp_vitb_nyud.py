# MT-CP, ViT-B/16 (mmpretrain arch 'base'), same recipe as the ViT-L
# config.
_base_ = ['./mtcp_vitl_nyud.py']
pretrained = ('https://download.openmmlab.com/mmclassification/v0/vit/'
              'finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_'
              'in1k-384_20210928-98e8652b.pth')
model = dict(
    backbone=dict(
        arch='base',
        out_indices=(2, 5, 8, 11),
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(
        in_channels=[768, 768, 768, 768],
        out_channels=[192, 384, 768, 768]),
    decode_head=dict(in_channels=[192, 384, 768, 768]))
