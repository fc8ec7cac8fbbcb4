# MT-CP in an ordinary mmseg UPerNet/Swin config: mmseg's model base
# (Swin-T backbone, FCNHead auxiliary head, train/test cfg), runtime and 40k
# schedule, with the UPerHead replaced by MTCPHead on the four NYUD-v2
# tasks (../_base_/mmseg_mtcp_nyud.py), and mmseg's Swin optimizer.
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    '../_base_/mmseg_mtcp_nyud.py',
    '../_base_/schedules/mmseg_schedule_40k_adamw.py',
]
checkpoint_file = ('https://download.openmmlab.com/mmsegmentation/v0.5/'
                   'pretrain/swin/swin_tiny_patch4_window7_224_20220317-'
                   '1cdeb081.pth')
model = dict(
    type='MultiTaskSegmentor',
    data_preprocessor=_base_.mtcp_data_preprocessor,
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    # `_delete_=True` replaces the base's UPerHead: its keys (`pool_scales`,
    # `dropout_ratio`, one `loss_decode` dict, ...) are not MTCPHead's.
    decode_head=dict(
        _base_.mtcp_head, _delete_=True, in_channels=[96, 192, 384, 768]),
    # The inherited FCNHead on stage 3 is extra supervision on the semseg
    # labels (`auxiliary_task`, default semseg), logged as `loss_semseg_aux`
    # (a side loss of semseg for TaskBalanceHook); not used at inference.
    auxiliary_head=dict(num_classes=40))
# mmseg's Swin parameter groups (its configs/swin/*.py)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
