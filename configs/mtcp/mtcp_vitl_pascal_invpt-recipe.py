# MT-CP, ViT-L/16, PASCAL-Context, InvPT-protocol recipe (the variant of
# `mtcp_vitl_pascal.py`, which follows the MT-CP reference): 512x512 crops
# of a 0.5-2.0 rescaled image, batch 2 per GPU, AdamW lr 2e-5 / weight
# decay 1e-6, poly decay, 40k iterations, tasks balanced by the Loss
# Prioritization Scheme (spread 1.6).
_base_ = [
    '../_base_/models/mtcp_vit.py', '../_base_/datasets/pascal_context_mt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py',
    '../_base_/balancers/lps_pascal.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size),
    decode_head=dict(
        tasks={{_base_.tasks}},
        num_classes=dict(semseg=21, human_parts=7),
        # InvPT's task-intrinsic weights for PASCAL-Context.
        loss_decode=dict(
            _delete_=True,
            semseg=dict(
                type='CrossEntropyLoss', avg_non_ignore=True,
                loss_weight=1.0),
            human_parts=dict(
                type='CrossEntropyLoss', avg_non_ignore=True,
                loss_weight=2.0),
            saliency=dict(
                type='BalancedBCELoss', pos_weight=None, loss_weight=5.0),
            normals=dict(type='NormalL1Loss', loss_weight=1.0),
            edge=dict(
                type='BalancedBCELoss', pos_weight=0.95, loss_weight=50.0))))
