# Plain multi-task baseline, ViT-L/16, PASCAL-Context, same recipe as
# configs/mtcp/mtcp_vitl_pascal.py (the MT-CP reference's).
_base_ = [
    '../_base_/models/mt_baseline_vit.py',
    '../_base_/datasets/pascal_context_mt_512x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py'
]
img_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=img_size),
    backbone=dict(img_size=img_size),
    decode_head=dict(
        tasks={{_base_.tasks}},
        num_classes=dict(semseg=21, human_parts=7),
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
