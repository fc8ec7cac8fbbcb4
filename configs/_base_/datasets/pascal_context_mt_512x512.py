# PASCAL-Context multi-task as the MT-CP reference feeds it
# (MultiTaskModel_PASCAL.yml): horizontal flip, a zoom by 0.75-1.25 and a
# rotation by -20..20 degrees about the image centre (ScaleNRotate), then a
# resize to 512x512. Testing resizes the image to 512x512 and evaluates the
# predictions resized back to the original ground truth. Epoch-based
# sampling (the reference schedule is in epochs).
_base_ = ['./pascal_context_mt.py']
img_size = (512, 512)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(
        type='MultiTaskRandomScaleRotate',
        scales=(0.75, 1.25),
        rotations=(-20.0, 20.0)),
    dict(type='MultiTaskResize', scale=(512, 512), keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='MultiTaskResize', scale=(512, 512), keep_ratio=False),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
