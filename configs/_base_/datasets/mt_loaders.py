# The loaders and the metric that every multi-task data set config shares:
# batch 2 of random crops for training (infinite sampler), batch 1 of whole
# images for validation and testing, one `MultiTaskMetric`. A data set
# config inherits this file and adds its `type`, `data_root`, `tasks`,
# training pipeline and metric settings. Images are loaded with
# `LoadCheckedImageFromFile` (mmmtcp), mmcv's `LoadImageFromFile` that
# refuses empty, truncated or damaged JPEG/PNG files with an error naming
# the file.
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(split='train'))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(split='val', test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiTaskMetric')
test_evaluator = val_evaluator
