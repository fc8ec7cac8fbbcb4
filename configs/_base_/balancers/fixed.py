# Fixed task weights (all 1 unless listed in `weights`), the baseline the
# other balancers are compared with.
custom_hooks = [
    dict(
        type='TaskBalanceHook',
        balancer=dict(type='FixedTaskWeights', weights=dict(), default=1.0))
]
