# CPU-sized variant of mtcp_mit-b0_nyud.py: the same mmseg SegFormer config
# with MTCPHead (MiT-B0 from scratch, a narrower head) on the synthetic
# scenes of the CPU demo (`python tools/demo.py` writes
# data/synthetic_scenes_120x160), with the demo's pipeline and its
# 140-iteration schedule.
_base_ = ['./mtcp_mit-b0_nyud.py']
data_root = 'data/synthetic_scenes_120x160'
crop_size = (96, 128)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=64, cfm=dict(attn_downsample=1)))
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
# the demo's AdamW, one learning rate for all (no 10x for the head)
optim_wrapper = dict(
    optimizer=dict(lr=2e-3, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=1.)}))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=140,
         by_epoch=False)
]
train_cfg = dict(max_iters=140, val_interval=140)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=140, max_keep_ckpts=1))
# LPS as in the CPU demo (configs/mtcp/mtcp_demo_synthetic.py explains the
# geometric spread and the normalization on a short schedule)
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
