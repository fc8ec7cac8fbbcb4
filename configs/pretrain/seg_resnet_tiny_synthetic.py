# Segmentation pretraining of the CPU demo's trunk (the narrow ResNet-18 of
# configs/_base_/models/mtcp_resnet_tiny.py), the stand-in for the
# ADE20K-pretrained trunk the released MT-CP code starts from. Written by
# `python tools/pretrain_trunk.py configs/pretrain/seg_resnet_tiny_synthetic.py`
# on scenes of another generator seed than the studies' (the tool sets the
# data root); every method of a study then starts from its backbone.
_base_ = ['../baseline/mt_baseline_demo_synthetic.py']
tasks = ['semseg']
model = dict(decode_head=dict(tasks=tasks, loss_decode=dict(_delete_=True)))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
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
