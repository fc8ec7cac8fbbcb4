# CPU demo: the tiny multi-task baseline of
# configs/baseline/mt_baseline_demo_synthetic.py with the cross-task
# contrastive regularizer.
_base_ = ['../baseline/mt_baseline_demo_synthetic.py']
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
