# MT-CP, ViT-L/16, NYUD-v2 (semseg, depth, normals, edge): 448x576 crops,
# batch 2 per GPU, 40k iterations, tasks balanced by the Loss
# Prioritization Scheme (spread 7.5). Switch the balancer by inheriting
# another file of `_base_/balancers/` or setting `custom_hooks`.
_base_ = [
    '../_base_/models/mtcp_vit.py', '../_base_/datasets/nyud_mt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py',
    '../_base_/balancers/lps_nyud.py'
]
crop_size = (448, 576)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size),
    decode_head=dict(
        tasks={{_base_.tasks}}, num_classes=dict(semseg=40)))
