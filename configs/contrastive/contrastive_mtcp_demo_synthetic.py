# CPU demo: the tiny MT-CP with the cross-task contrastive regularizer (default
# settings: 256 sampled pixels per image, triplet margin 0.5, weight 0.1; tasks
# and feature width come from the head). Inference is identical to
# configs/mtcp/mtcp_demo_synthetic.py.
_base_ = ['../mtcp/mtcp_demo_synthetic.py']
model = dict(regularizer=dict(type='CrossTaskContrastiveRegularizer'))
