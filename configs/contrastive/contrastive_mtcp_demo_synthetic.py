# CPU demo: the tiny MT-CP of configs/mtcp/mtcp_demo_synthetic.py with the
# cross-task contrastive regularizer on its 32-channel task features.
_base_ = ['../mtcp/mtcp_demo_synthetic.py']
model = dict(
    regularizer=dict(
        type='CrossTaskContrastiveRegularizer',
        tasks={{_base_.tasks}},
        in_channels=32,
        embed_channels=32,
        hidden_channels=64,
        num_samples=256,
        loss_type='triplet',
        margin=0.5,
        depth_threshold=0.1,
        normal_threshold=15.0,
        loss_weight=0.1))
