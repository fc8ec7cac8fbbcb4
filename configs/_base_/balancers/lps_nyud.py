# Loss Prioritization Scheme of MT-CP with the NYUD-v2 spread (reference
# code: 7.5); weights are updated once per epoch (len(train_dataloader)
# iterations) unless `period` is set. A config that defines its own
# `custom_hooks` replaces this list, so add the hook there instead.
custom_hooks = [
    dict(
        type='TaskBalanceHook',
        balancer=dict(
            type='LossPrioritization', spread=7.5, period=None,
            log_scale=True))
]
