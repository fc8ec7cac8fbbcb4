# Training recipe of the InvPT/MT-CP family: AdamW, polynomial decay, 40k
# iterations, validation every 4k.
optimizer = dict(type='AdamW', lr=2e-5, betas=(0.9, 0.999), weight_decay=1e-6)
# a step whose loss is non-finite is skipped (model and optimizer state
# unchanged); DivergenceHook stops the run after 3 in a row
optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-6,
        power=0.9,
        begin=0,
        end=40000,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='SafeCheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # stop a run whose loss blows up or stays non-finite, before any
    # checkpoint is written from it
    divergence=dict(type='DivergenceHook'),
    visualization=dict(type='MultiTaskVisualizationHook'),
    # model, data sets and evaluators agree on tasks and classes
    multi_task_check=dict(type='MultiTaskCheckHook'))
