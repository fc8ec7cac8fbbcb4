# Plain multi-task baseline with the MT-CP task decoders: ViT-L/16 backbone
# (mmpretrain), pyramid neck and one decoder + output per task (no CFM, no
# SRM), NYUD-v2 tasks by default. The ViT's layers 6/12/18/24 become a
# 1/4..1/32 pyramid (ViTPyramidNeck). ./mtcp_vit.py adds MT-CP's modules to
# this head. Dataset configs override `tasks`, `num_classes`, `size` and
# `img_size`.
norm_cfg = dict(type='SyncBN', requires_grad=True)
# ImageNet-21k pre-trained, ImageNet-1k fine-tuned ViT-L/16 at 384 px (the
# timm `vit_large_patch16_384` weights InvPT/TaskPrompter use), converted to
# mmpretrain. A local path works as well.
pretrained = ('https://download.openmmlab.com/mmclassification/v0/vit/'
              'finetune/vit-large-p16_in21k-pre-3rdparty_ft-64xb64_'
              'in1k-384_20210928-b20ba619.pth')
data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(448, 576),
    test_cfg=dict(size_divisor=32))
model = dict(
    type='MultiTaskSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmpretrain.VisionTransformer',
        arch='large',
        img_size=(448, 576),
        patch_size=16,
        out_indices=(5, 11, 17, 23),
        out_type='featmap',
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        type='ViTPyramidNeck',
        in_channels=[1024, 1024, 1024, 1024],
        out_channels=[256, 512, 1024, 1024],
        scales=(4, 2, 1, 0.5),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='MultiTaskBaselineHead',
        tasks=['semseg', 'depth', 'normals', 'edge'],
        num_classes=dict(semseg=40),
        in_channels=[256, 512, 1024, 1024],
        channels=256,
        decoder=dict(num_convs=2),
        norm_cfg=norm_cfg,
        align_corners=False,
        # Task-intrinsic loss weights of InvPT (edge x50); balancing across
        # tasks is left to a `custom_hooks` balancer.
        loss_decode=dict(
            semseg=dict(
                type='CrossEntropyLoss', avg_non_ignore=True,
                loss_weight=1.0),
            depth=dict(type='DepthL1Loss', loss_weight=1.0),
            normals=dict(type='NormalL1Loss', loss_weight=1.0),
            edge=dict(type='BalancedBCELoss', pos_weight=0.95,
                      loss_weight=50.0))),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
