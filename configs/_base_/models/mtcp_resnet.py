# MT-CP with an mmseg ResNet-50 (V1c) backbone: the backbone's four stages
# are the 1/4..1/32 pyramid, no neck needed.
_base_ = ['../imagenet_data_preprocessor.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(_base_.imagenet_data_preprocessor, size=(448, 576))
model = dict(
    type='MultiTaskSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
    decode_head=dict(
        type='MTCPHead',
        tasks=['semseg', 'depth', 'normals', 'edge'],
        num_classes=dict(semseg=40),
        in_channels=[256, 512, 1024, 2048],
        channels=256,
        decoder=dict(num_convs=2),
        cfm=dict(impl='auto', attn_downsample=1),
        trace_levels=3,
        side_loss_weight=0.5,
        norm_cfg=norm_cfg,
        loss_decode=dict(
            edge=dict(type='BalancedBCELoss', pos_weight=0.95,
                      loss_weight=50.0))),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
