# MT-CP, ViT-L/16, PASCAL-Context, InvPT-protocol recipe (the variant of
# `mtcp_vitl_pascal.py`, which follows the MT-CP reference): 512x512 crops
# of a 0.5-2.0 rescaled image, batch 2 per GPU, AdamW lr 2e-5 / weight
# decay 1e-6, poly decay, 40k iterations, tasks balanced by the Loss
# Prioritization Scheme (spread 1.6).
_base_ = [
    '../_base_/models/mtcp_vit_pascal.py',
    '../_base_/datasets/pascal_context_mt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py',
    '../_base_/balancers/lps_pascal.py'
]
