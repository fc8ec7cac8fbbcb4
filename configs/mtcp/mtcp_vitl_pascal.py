# MT-CP, ViT-L/16, PASCAL-Context (semseg, human parts, saliency, normals,
# edge), with the recipe of the MT-CP reference (MultiTaskModel_PASCAL.yml):
# 512x512 input with +-20 degree rotation and 0.75-1.25 zoom, batch 2 per
# GPU, AdamW lr 5e-5 / weight decay 1e-4, poly decay per epoch, 100 epochs,
# tasks balanced by the Loss Prioritization Scheme (spread 1.6, weights
# updated once per epoch). `mtcp_vitl_pascal_invpt-recipe.py` is the
# InvPT-protocol variant (512x512 crops, AdamW 2e-5, 40k iterations).
_base_ = [
    '../_base_/models/mtcp_vit_pascal.py',
    '../_base_/datasets/pascal_context_mt_512x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py',
    '../_base_/balancers/lps_pascal.py'
]
log_processor = dict(by_epoch=True)
