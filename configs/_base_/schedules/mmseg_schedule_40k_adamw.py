# The optimizer of mmseg's SegFormer and Swin configs (their
# configs/segformer/*.py and configs/swin/*.py) on ./mmseg_schedule_40k.py:
# AdamW lr 6e-5, weight decay 0.01, 1500 iterations of linear warm-up, then
# linear (power 1) decay to 40k. A config adds its `paramwise_cfg`.
_base_ = ['./mmseg_schedule_40k.py']
optim_wrapper = dict(
    _delete_=True,
    type='SkipNonFiniteOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=40000,
        by_epoch=False)
]
