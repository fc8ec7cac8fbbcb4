# Training recipe of the MT-CP reference (MT_simple_final.yml /
# MultiTaskModel_PASCAL.yml): AdamW lr 5e-5, weight decay 1e-4, polynomial
# decay (power 0.9) updated once per epoch, 100 epochs, evaluation every 10
# epochs.
optimizer = dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999), weight_decay=1e-4)
# a step whose loss is non-finite is skipped (model and optimizer state
# unchanged); DivergenceHook stops the run after 3 in a row
optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=100,
        by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='SafeCheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # stop a run whose loss blows up or stays non-finite, before any
    # checkpoint is written from it
    divergence=dict(type='DivergenceHook'),
    visualization=dict(type='MultiTaskVisualizationHook'),
    # model, data sets and evaluators agree on tasks and classes
    multi_task_check=dict(type='MultiTaskCheckHook'))
