# CPU demo: a tiny MT-CP trained from scratch on the procedurally generated
# NYUD-layout scenes (`python tools/generate_synthetic_scenes.py
# data/synthetic_scenes` first). 300 iterations, validation at the end.
_base_ = [
    '../_base_/models/mtcp_resnet_tiny.py',
    '../_base_/datasets/synthetic_scenes.py', '../_base_/default_runtime.py',
    '../_base_/balancers/lps_nyud.py'
]
model = dict(
    decode_head=dict(tasks={{_base_.tasks}}, num_classes=dict(semseg=40)))
# The model works at half resolution (about 120x160) to stay fast on a CPU:
# training jitters the scale around it and keeps metric depth
# (`depth_scale_mode='keep'`, so train and test depths agree); testing
# resizes the image only and evaluates predictions resized back to the full
# 240x320 ground truth.
crop_size = (112, 144)
train_pipeline = [
    dict(type='LoadImageFromFile'),
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
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiTaskResize', scale=(160, 120), keep_ratio=True),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999),
                   weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=300,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=300)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=300,
        max_keep_ckpts=1),
    visualization=dict(type='MultiTaskVisualizationHook'))
# LPS as in configs/_base_/balancers/lps_nyud.py, but with weights updated
# every 100 iterations (two epochs of the 200-scene demo set instead of one
# epoch of 50 iterations) and normalized to sum to the number of tasks: with
# only 300 iterations, per-epoch updates of unnormalized weights made single
# tasks' weights jump between 0 and ~5.
custom_hooks = [
    dict(
        type='TaskBalanceHook',
        balancer=dict(
            type='LossPrioritization',
            spread=7.5,
            period=100,
            log_scale=True,
            normalize=True))
]
