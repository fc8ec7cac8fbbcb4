# Plain multi-task baseline (ViT-L/16, NYUD-v2) with the cross-task
# contrastive regularizer.
_base_ = ['../baseline/mt_baseline_vitl_nyud.py']
model = dict(
    regularizer=dict(
        type='CrossTaskContrastiveRegularizer',
        tasks={{_base_.tasks}},
        in_channels=256,
        embed_channels=128,
        hidden_channels=256,
        num_samples=512,
        loss_type='triplet',
        margin=0.5,
        depth_threshold=0.1,
        normal_threshold=15.0,
        loss_weight=0.1))
