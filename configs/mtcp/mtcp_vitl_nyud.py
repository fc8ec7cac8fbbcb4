# MT-CP, ViT-L/16, NYUD-v2 (semseg, depth, normals, edge), with the recipe
# of the MT-CP reference (MT_simple_final.yml): the full 480x640 input
# (zoom augmentation, resized back), batch 2 per GPU, AdamW lr 5e-5 / weight
# decay 1e-4, poly decay per epoch, 100 epochs, tasks balanced by the Loss
# Prioritization Scheme (spread 7.5, weights updated once per epoch).
# `mtcp_vitl_nyud_invpt-recipe.py` is the InvPT-protocol variant (448x576
# crops, AdamW 2e-5, 40k iterations).
_base_ = [
    '../_base_/models/mtcp_vit.py', '../_base_/datasets/nyud_mt_480x640.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py',
    '../_base_/balancers/lps_nyud.py'
]
model = dict(
    data_preprocessor=dict(size=_base_.img_size),
    backbone=dict(img_size=_base_.img_size))
log_processor = dict(by_epoch=True)
