# NYUD-v2 multi-task (semseg, depth, normals, edge), ATRC/InvPT layout.
_base_ = ['./mt_loaders.py']
dataset_type = 'NYUDv2Dataset'
data_root = 'data/NYUDv2'
tasks = ['semseg', 'depth', 'normals', 'edge']
crop_size = (448, 576)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(
        type='MultiTaskRandomResize',
        scale=(640, 480),
        ratio_range=(0.5, 2.0),
        keep_ratio=True,
        depth_scale_mode='divide'),
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
val_evaluator = dict(tasks=tasks, edge_tolerance=0.011)
test_evaluator = val_evaluator
