# NYUD-v2 multi-task as the MT-CP reference feeds it (MT_simple_final.yml):
# the full 480x640 image, horizontal flip, a zoom about the image centre by
# 1.0, 1.2 or 1.5 (ScaleNRotate without rotation; metric depth kept) and a
# resize back to 480x640. Epoch-based sampling (the reference schedule is
# in epochs).
_base_ = ['./nyud_mt.py']
img_size = (480, 640)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(
        type='MultiTaskRandomScaleRotate',
        scales=[1.0, 1.2, 1.5],
        rotations=[0.0],
        depth_scale_mode='keep'),
    dict(type='MultiTaskResize', scale=(640, 480), keep_ratio=False,
         depth_scale_mode='keep'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
