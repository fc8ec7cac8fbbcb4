# PASCAL-Context multi-task (semseg, human parts, saliency, normals, edge).
_base_ = ['./mt_loaders.py']
dataset_type = 'PascalContextMTDataset'
data_root = 'data/PASCAL_MT'
tasks = ['semseg', 'human_parts', 'saliency', 'normals', 'edge']
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(
        type='MultiTaskRandomResize',
        scale=(512, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='MultiTaskPad', size=crop_size),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        tasks=tasks,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(
    tasks=tasks, edge_tolerance=0.0075,
    # the data set supplies thin(seg2bmap(LabelMap)) in test mode
    edge_gt_boundaries=False)
test_evaluator = val_evaluator
