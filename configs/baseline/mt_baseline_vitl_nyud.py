# Plain multi-task baseline (shared ViT-L/16, one decoder + output per
# task, no CFM/SRM, losses summed), NYUD-v2, same recipe as
# configs/mtcp/mtcp_vitl_nyud.py (the MT-CP reference's).
_base_ = [
    '../_base_/models/mt_baseline_vit.py',
    '../_base_/datasets/nyud_mt_480x640.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_100e.py'
]
img_size = (480, 640)
model = dict(
    data_preprocessor=dict(size=img_size),
    backbone=dict(img_size=img_size),
    decode_head=dict(
        tasks={{_base_.tasks}}, num_classes=dict(semseg=40)))
log_processor = dict(by_epoch=True)
