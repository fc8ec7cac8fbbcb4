# MT-CP parts in an ordinary mmseg setup: mmseg's Swin-T backbone (as in
# mmseg's UperNet Swin configs) with MTCPHead, NYUD-v2.
_base_ = [
    '../_base_/datasets/nyud_mt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py'
]
crop_size = (448, 576)
norm_cfg = dict(type='SyncBN', requires_grad=True)
checkpoint_file = ('https://download.openmmlab.com/mmsegmentation/v0.5/'
                   'pretrain/swin/swin_tiny_patch4_window7_224_20220317-'
                   '1cdeb081.pth')
model = dict(
    type='MultiTaskSegmentor',
    data_preprocessor=dict(
        type='MultiTaskDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=crop_size,
        test_cfg=dict(size_divisor=32)),
    backbone=dict(
        type='SwinTransformer',
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(
        type='MTCPHead',
        tasks={{_base_.tasks}},
        num_classes=dict(semseg=40),
        in_channels=[96, 192, 384, 768],
        channels=256,
        cfm=dict(impl='sdpa', attn_downsample=2),
        norm_cfg=norm_cfg,
        loss_decode=dict(
            edge=dict(type='BalancedBCELoss', pos_weight=0.95,
                      loss_weight=50.0))),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
