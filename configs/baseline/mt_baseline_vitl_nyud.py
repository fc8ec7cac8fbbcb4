# Plain multi-task baseline (shared ViT-L/16, one decoder + output per
# task, no CFM/SRM, losses summed), NYUD-v2, same recipe as
# configs/mtcp/mtcp_vitl_nyud.py (the MT-CP reference's).
_base_ = [
    '../_base_/models/mt_baseline_vit.py',
    '../_base_/datasets/nyud_mt_480x640.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_100e.py'
]
model = dict(
    data_preprocessor=dict(size=_base_.img_size),
    backbone=dict(img_size=_base_.img_size))
log_processor = dict(by_epoch=True)
