# CPU demo: the tiny multi-task baseline with the cross-task contrastive
# regularizer (128 sampled pixels per image, otherwise the default settings:
# triplet margin 0.5, weight 0.1; tasks and feature width come from the head).
# Inference is identical to configs/baseline/mt_baseline_demo_synthetic.py.
_base_ = ['../baseline/mt_baseline_demo_synthetic.py']
model = dict(
    regularizer=dict(type='CrossTaskContrastiveRegularizer', num_samples=128))
