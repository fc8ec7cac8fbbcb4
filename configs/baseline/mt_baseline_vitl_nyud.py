# Plain multi-task baseline (shared ViT-L/16, one decoder + output per
# task, no CFM/SRM), NYUD-v2, same recipe as configs/mtcp/mtcp_vitl_nyud.py.
_base_ = [
    '../_base_/models/mt_baseline_vit.py', '../_base_/datasets/nyud_mt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (448, 576)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size),
    decode_head=dict(
        tasks={{_base_.tasks}}, num_classes=dict(semseg=40)))
