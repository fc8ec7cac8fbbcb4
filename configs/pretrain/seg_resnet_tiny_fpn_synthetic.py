# Segmentation pretraining of the trunk of the released MT-CP form on the
# CPU demo (configs/mtcp/mtcp_release_demo_synthetic.py): the narrow
# ResNet-18 and the FPN neck whose finest output is the shared map, the
# stand-in for the release's ADE20K Mask2Former (Swin-S backbone and pixel
# decoder). `python tools/pretrain_trunk.py` trains it on scenes of another
# generator seed than the studies'.
_base_ = ['../baseline/mt_baseline_release_demo_synthetic.py']
tasks = ['semseg']
model = dict(
    decode_head=dict(
        tasks=tasks,
        loss_decode=dict(_delete_=True),
        side_loss_decode=dict(_delete_=True)))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(tasks=tasks)
test_evaluator = val_evaluator
max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters))
# what tools/pretrain_trunk.py keeps of the trained model
trunk_prefixes = ['backbone', 'neck']
