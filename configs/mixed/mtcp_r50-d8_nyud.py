# MT-CP in an ordinary mmseg FCN config: mmseg's model base (dilated
# ResNet-50-V1c "d8" backbone initialized from `model.pretrained`, FCNHead
# auxiliary head, train/test cfg), runtime and 40k SGD schedule, with the
# FCNHead decode head replaced by MTCPHead on the four NYUD-v2 tasks
# (../_base_/mmseg_mtcp_nyud.py).
_base_ = [
    'mmseg::_base_/models/fcn_r50-d8.py',
    '../_base_/mmseg_mtcp_nyud.py',
    '../_base_/schedules/mmseg_schedule_40k.py',
]
model = dict(
    type='MultiTaskSegmentor',
    # `pretrained='open-mmlab://resnet50_v1c'` is inherited and means what
    # it means in mmseg (the backbone's init_cfg).
    data_preprocessor=_base_.mtcp_data_preprocessor,
    # The MT-CP head reads all four stages. In the d8 backbone they are at
    # 1/4, 1/8, 1/8, 1/8 (dilated); the head resizes between levels, so it
    # works as inherited. `strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1)`
    # gives the 1/4..1/32 pyramid of configs/_base_/models/mtcp_resnet.py
    # (cheaper, and the SRM then walks back over three scales).
    # `_delete_=True` replaces the base's FCNHead: its keys (`num_convs`,
    # `concat_input`, `dropout_ratio`, one `loss_decode` dict, an int
    # `in_index`) are not MTCPHead's.
    decode_head=dict(
        _base_.mtcp_head, _delete_=True, in_channels=[256, 512, 1024, 2048]),
    # The inherited FCNHead on stage 3 is extra supervision on the semseg
    # labels (`auxiliary_task`, default semseg), logged as `loss_semseg_aux`
    # (a side loss of semseg for TaskBalanceHook); not used at inference.
    auxiliary_head=dict(num_classes=40))
