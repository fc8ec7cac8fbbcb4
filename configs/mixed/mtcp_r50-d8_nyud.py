# MT-CP in an ordinary mmseg FCN config: mmseg's model base (dilated
# ResNet-50-V1c "d8" backbone initialized from `model.pretrained`, FCNHead
# auxiliary head, train/test cfg), runtime and 40k SGD schedule, with the
# FCNHead decode head replaced by MTCPHead on the four NYUD-v2 tasks.
_base_ = [
    'mmseg::_base_/models/fcn_r50-d8.py',
    '../_base_/datasets/nyud_mt.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
    '../_base_/balancers/lps_nyud.py',
]
# registers MultiTaskSegmentor, MTCPHead, the data sets, ... in mmseg
custom_imports = dict(imports=['mmmtcp'], allow_failed_imports=False)
crop_size = (448, 576)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='MultiTaskSegmentor',
    # `pretrained='open-mmlab://resnet50_v1c'` is inherited and means what
    # it means in mmseg (the backbone's init_cfg).
    # mmseg's SegDataPreProcessor pads only `gt_sem_seg`; this one pads the
    # map of every task (mean/std/bgr_to_rgb are inherited).
    data_preprocessor=dict(
        type='MultiTaskDataPreProcessor',
        size=crop_size,
        test_cfg=dict(size_divisor=32)),
    # The MT-CP head reads all four stages. In the d8 backbone they are at
    # 1/4, 1/8, 1/8, 1/8 (dilated); the head resizes between levels, so it
    # works as inherited. `strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1)`
    # gives the 1/4..1/32 pyramid of configs/_base_/models/mtcp_resnet.py
    # (cheaper, and the SRM then walks back over three scales).
    # `_delete_=True` replaces the base's FCNHead: its keys (`num_convs`,
    # `concat_input`, `dropout_ratio`, one `loss_decode` dict, an int
    # `in_index`) are not MTCPHead's. `num_classes` is an int, as in
    # mmseg: the classes of semseg.
    decode_head=dict(
        _delete_=True,
        type='MTCPHead',
        tasks={{_base_.tasks}},
        num_classes=40,
        in_channels=[256, 512, 1024, 2048],
        channels=256,
        cfm=dict(impl='auto', attn_downsample=2),
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            edge=dict(type='BalancedBCELoss', pos_weight=0.95,
                      loss_weight=50.0))),
    # The inherited FCNHead on stage 3 is extra supervision on the semseg
    # labels (`auxiliary_task`, default semseg), logged as `loss_semseg_aux`
    # (a side loss of semseg for TaskBalanceHook); not used at inference.
    auxiliary_head=dict(num_classes=40))
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
