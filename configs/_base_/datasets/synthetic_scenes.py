# Procedurally generated NYUD-layout scenes (240x320), written by
# `python tools/generate_synthetic_scenes.py data/synthetic_scenes`: the
# NYUD-v2 data set, tasks and metric with another root and a pipeline for
# half the image size.
_base_ = ['./nyud_mt.py']
data_root = 'data/synthetic_scenes'
crop_size = (224, 288)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(
        type='MultiTaskRandomResize',
        scale=(320, 240),
        ratio_range=(0.75, 1.5),
        keep_ratio=True,
        depth_scale_mode='divide'),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='MultiTaskPad', size=crop_size),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
