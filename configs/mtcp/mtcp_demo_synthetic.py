# CPU demo: a tiny MT-CP trained from scratch on the procedurally generated
# NYUD-layout scenes. 140 iterations of batch 4 (2.8 epochs of the 200
# training scenes), validation at the end.
_base_ = [
    '../_base_/models/mtcp_resnet_tiny.py',
    '../_base_/datasets/synthetic_scenes.py', '../_base_/default_runtime.py',
    '../_base_/balancers/lps_nyud.py'
]
# Small scenes (120x160, written by `python tools/demo.py` or
# `python tools/generate_synthetic_scenes.py data/synthetic_scenes_120x160
# --height 120 --width 160`) keep the CPU demo fast: training jitters the
# scale around the native size and keeps metric depth
# (`depth_scale_mode='keep'`, so train and test depths agree); testing runs
# at the native size.
data_root = 'data/synthetic_scenes_120x160'
crop_size = (96, 128)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(
        type='MultiTaskRandomResize',
        scale=(160, 120),
        ratio_range=(0.8, 1.25),
        keep_ratio=True,
        depth_scale_mode='keep'),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='MultiTaskPad', size=crop_size),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=4, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999),
                   weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=140,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=140, val_interval=140)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(
        type='SafeCheckpointHook', by_epoch=False, interval=140,
        max_keep_ckpts=1),
    # stop a run whose loss blows up or stays non-finite, before any
    # checkpoint is written from it
    divergence=dict(type='DivergenceHook'),
    visualization=dict(type='MultiTaskVisualizationHook'),
    # model, data sets and evaluators agree on tasks and classes
    multi_task_check=dict(type='MultiTaskCheckHook'))
# LPS with the NYUD-v2 spread, weights updated once per epoch (50
# iterations of the 200-scene set). Two settings differ from the paper's
# formula, both equal to it to first order when the per-period loss changes
# are small (the reference's regime of 100 epochs): the spread acts
# geometrically (`spread_mode='geometric'`) and the weights are rescaled to
# sum to the number of tasks (`normalize=True`). On a schedule of a few
# epochs the losses change by tens of percent per period; with the linear
# spread and no rescaling (the paper's formula), a 200-iteration run of
# seed 0 had the weights [3.86, 3.06, 6.58, 3.82] after the first epoch,
# then semseg 0.0 for iterations 101-150 and depth 0.0 for 151-200 (README,
# "What LPS does at this scale").
custom_hooks = [
    dict(
        type='TaskBalanceHook',
        balancer=dict(
            type='LossPrioritization',
            spread=7.5,
            period=None,
            log_scale=True,
            spread_mode='geometric',
            normalize=True))
]
