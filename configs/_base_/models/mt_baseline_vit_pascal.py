# ./mt_baseline_vit.py on PASCAL-Context: 512x512 input, the five tasks
# (semseg 21 classes, human parts 7, saliency, normals, edge) and InvPT's
# task-intrinsic loss weights for PASCAL-Context.
_base_ = ['./mt_baseline_vit.py']
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    backbone=dict(img_size=(512, 512)),
    decode_head=dict(
        tasks=['semseg', 'human_parts', 'saliency', 'normals', 'edge'],
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
