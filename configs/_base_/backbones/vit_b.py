# ViT-B/16 (mmpretrain arch 'base') in place of the ViT-L/16 of an MT-CP
# ViT config: a config inherits its ViT-L config and this file and sets
# `model = _base_.vit_b`. ImageNet-21k pre-trained, ImageNet-1k fine-tuned
# weights at 384 px, layers 3/6/9/12 as the pyramid, and the neck and head
# widths that follow.
vit_b = dict(
    backbone=dict(
        arch='base',
        out_indices=(2, 5, 8, 11),
        init_cfg=dict(
            checkpoint=('https://download.openmmlab.com/mmclassification/'
                        'v0/vit/finetune/vit-base-p16_in21k-pre-3rdparty_'
                        'ft-64xb64_in1k-384_20210928-98e8652b.pth'))),
    neck=dict(
        in_channels=[768, 768, 768, 768], out_channels=[192, 384, 768, 768]),
    decode_head=dict(in_channels=[192, 384, 768, 768]))
