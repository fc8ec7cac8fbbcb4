# Dynamic Weight Average (Liu et al., CVPR 2019), temperature 2, weights
# updated once per epoch unless `period` is set.
custom_hooks = [
    dict(
        type='TaskBalanceHook',
        balancer=dict(type='DynamicWeightAverage', temperature=2.0))
]
