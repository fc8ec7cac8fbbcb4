# CPU demo counterpart of configs/mtcp/mtcp_demo_synthetic.py: the same tiny
# backbone and task decoders, without CFM and SRM, and the task losses simply
# summed (no Loss Prioritization Scheme).
_base_ = ['../mtcp/mtcp_demo_synthetic.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='MultiTaskBaselineHead',
        tasks={{_base_.tasks}},
        num_classes=dict(semseg=40),
        in_channels=[16, 32, 64, 128],
        channels=32,
        decoder=dict(num_convs=1),
        norm_cfg={{_base_.norm_cfg}},
        loss_decode=dict(
            edge=dict(type='BalancedBCELoss', pos_weight=0.95,
                      loss_weight=50.0))))
custom_hooks = []
