# Loss Prioritization Scheme of MT-CP with the PASCAL-Context spread
# (reference code: 1.6); see lps_nyud.py.
custom_hooks = [
    dict(
        type='TaskBalanceHook',
        balancer=dict(
            type='LossPrioritization', spread=1.6, period=None,
            log_scale=True))
]
