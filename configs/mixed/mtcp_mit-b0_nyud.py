# MT-CP in an ordinary mmseg SegFormer config: mmseg's model base (MiT-B0
# encoder, data preprocessor settings, train/test cfg), runtime and 40k
# schedule, with the SegformerHead replaced by MTCPHead on the four NYUD-v2
# tasks (../_base_/mmseg_mtcp_nyud.py), and mmseg's SegFormer optimizer.
_base_ = [
    'mmseg::_base_/models/segformer_mit-b0.py',
    '../_base_/mmseg_mtcp_nyud.py',
    '../_base_/schedules/mmseg_schedule_40k_adamw.py',
]
checkpoint = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
              'segformer/mit_b0_20220624-7e0fe6dd.pth')
model = dict(
    type='MultiTaskSegmentor',
    data_preprocessor=_base_.mtcp_data_preprocessor,
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(
        _base_.mtcp_head, _delete_=True, in_channels=[32, 64, 160, 256]))
# mmseg's SegFormer parameter groups (its configs/segformer/*.py)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'head': dict(lr_mult=10.)
        }))
