# MT-CP on the four NYUD-v2 tasks for a config built on an mmseg model base
# (configs/mixed/): the data set, mmseg's runtime with mmmtcp's modules, the
# Loss Prioritization Scheme, and two pieces for the config's `model`:
# - `mtcp_data_preprocessor`: mmseg's SegDataPreProcessor pads only
#   `gt_sem_seg`; this one pads the map of every task (mean/std/bgr_to_rgb
#   are the model base's);
# - `mtcp_head`: the MTCPHead that replaces the base's decode head; the
#   config adds the backbone's `in_channels` and `_delete_=True` (the keys of
#   mmseg's heads, `dropout_ratio`, one `loss_decode` dict, ..., are not
#   MTCPHead's). `num_classes` is an int, as in mmseg: the classes of
#   semseg.
# A config inherits an mmseg model base, this file and a schedule
# (./schedules/mmseg_schedule_40k*.py).
_base_ = [
    './datasets/nyud_mt.py', './mmseg_runtime.py',
    './balancers/lps_nyud.py'
]
mtcp_data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    size=_base_.crop_size,
    test_cfg=dict(size_divisor=32))
mtcp_head = dict(
    type='MTCPHead',
    tasks=_base_.tasks,
    num_classes=40,
    channels=256,
    cfm=dict(impl='auto', attn_downsample=2),
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    align_corners=False,
    loss_decode=dict(
        edge=dict(type='BalancedBCELoss', pos_weight=0.95, loss_weight=50.0)))
