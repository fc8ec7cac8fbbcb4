# The multi-task baseline (ViT-L/16, PASCAL-Context) with the cross-task
# contrastive regularizer: training-only projectors on the task features (tasks
# and width come from the head); inference is identical to
# configs/baseline/mt_baseline_vitl_pascal.py.
_base_ = ['../baseline/mt_baseline_vitl_pascal.py']
model = dict(
    regularizer=dict(type='CrossTaskContrastiveRegularizer',
                     embed_channels=128, hidden_channels=256,
                     num_samples=512, loss_weight=0.1))
