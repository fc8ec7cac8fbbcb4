# MT-CP, ViT-L/16, PASCAL-Context (semseg, human parts, saliency, normals,
# edge), with the recipe of the MT-CP reference (MultiTaskModel_PASCAL.yml):
# 512x512 input with +-20 degree rotation and 0.75-1.25 zoom, batch 2 per
# GPU, AdamW lr 5e-5 / weight decay 1e-4, poly decay per epoch, 100 epochs,
# tasks balanced by the Loss Prioritization Scheme (spread 1.6, weights
# updated once per epoch). `mtcp_vitl_pascal_invpt-recipe.py` is the
# InvPT-protocol variant (512x512 crops, AdamW 2e-5, 40k iterations).
_base_ = [
    '../_base_/models/mtcp_vit.py',
    '../_base_/datasets/pascal_context_mt_512x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py',
    '../_base_/balancers/lps_pascal.py'
]
img_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=img_size),
    backbone=dict(img_size=img_size),
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
log_processor = dict(by_epoch=True)
