# MT-CP in an ordinary mmseg SegFormer config: mmseg's model base (MiT-B0
# encoder, data preprocessor settings, train/test cfg), runtime and 40k
# schedule, with the SegformerHead replaced by MTCPHead on the four NYUD-v2
# tasks, and mmseg's SegFormer optimizer.
_base_ = [
    'mmseg::_base_/models/segformer_mit-b0.py',
    '../_base_/datasets/nyud_mt.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
    '../_base_/balancers/lps_nyud.py',
]
# registers MultiTaskSegmentor, MTCPHead, the data sets, ... in mmseg
custom_imports = dict(imports=['mmmtcp'], allow_failed_imports=False)
crop_size = (448, 576)
norm_cfg = dict(type='SyncBN', requires_grad=True)
checkpoint = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
              'segformer/mit_b0_20220624-7e0fe6dd.pth')
model = dict(
    type='MultiTaskSegmentor',
    # mmseg's SegDataPreProcessor pads only `gt_sem_seg`; this one pads the
    # map of every task (mean/std/bgr_to_rgb are inherited).
    data_preprocessor=dict(
        type='MultiTaskDataPreProcessor',
        size=crop_size,
        test_cfg=dict(size_divisor=32)),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    # `_delete_=True` replaces the base's SegformerHead: its keys
    # (`dropout_ratio`, one `loss_decode` dict, ...) are not MTCPHead's.
    # `num_classes` is an int, as in mmseg: the classes of semseg.
    decode_head=dict(
        _delete_=True,
        type='MTCPHead',
        tasks={{_base_.tasks}},
        num_classes=40,
        in_channels=[32, 64, 160, 256],
        channels=256,
        cfm=dict(impl='auto', attn_downsample=2),
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            edge=dict(type='BalancedBCELoss', pos_weight=0.95,
                      loss_weight=50.0))))
# mmseg's SegFormer optimizer (its configs/segformer/*.py)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'head': dict(lr_mult=10.)
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=40000,
        by_epoch=False)
]
# mmseg's runtime draws with SegLocalVisualizer / SegVisualizationHook
# (semseg and depth only, every 50th batch): draw every task instead, every
# test image; `tools/test.py --show-dir DIR` (mmseg's or mmmtcp's) turns
# the hook on and writes the pictures under DIR.
visualizer = dict(type='MultiTaskLocalVisualizer')
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', max_keep_ckpts=2),
    visualization=dict(type='MultiTaskVisualizationHook'),
    # model, data sets and evaluators agree on tasks and classes
    multi_task_check=dict(type='MultiTaskCheckHook'))
