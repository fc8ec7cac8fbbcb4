# Uncertainty weighting (Kendall et al., CVPR 2018); the learnable
# log-variances form an extra optimizer parameter group without weight decay.
custom_hooks = [
    dict(
        type='TaskBalanceHook',
        balancer=dict(
            type='UncertaintyWeighting',
            paper_factors=True,
            param_group=dict(weight_decay=0.0)))
]
