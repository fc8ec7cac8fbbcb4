# Plain multi-task baseline with the MT-CP task decoders: ViT-L/16 backbone,
# pyramid neck and one decoder + output per task (no CFM, no SRM).
_base_ = ['./mtcp_vit.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='MultiTaskBaselineHead',
        tasks=['semseg', 'depth', 'normals', 'edge'],
        num_classes=dict(semseg=40),
        in_channels=[256, 512, 1024, 1024],
        channels=256,
        decoder=dict(num_convs=2),
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            semseg=dict(
                type='CrossEntropyLoss', avg_non_ignore=True,
                loss_weight=1.0),
            depth=dict(type='DepthL1Loss', loss_weight=1.0),
            normals=dict(type='NormalL1Loss', loss_weight=1.0),
            edge=dict(type='BalancedBCELoss', pos_weight=0.95,
                      loss_weight=50.0))))
