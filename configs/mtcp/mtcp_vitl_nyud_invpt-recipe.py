# MT-CP, ViT-L/16, NYUD-v2, InvPT-protocol recipe (the variant of
# `mtcp_vitl_nyud.py`, which follows the MT-CP reference): 448x576 crops of
# a 0.5-2.0 rescaled image (the model base's input size), batch 2 per GPU,
# AdamW lr 2e-5 / weight decay 1e-6, poly decay, 40k iterations, tasks
# balanced by the Loss Prioritization Scheme (spread 7.5).
_base_ = [
    '../_base_/models/mtcp_vit.py', '../_base_/datasets/nyud_mt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py',
    '../_base_/balancers/lps_nyud.py'
]
