# Plain multi-task baseline of the released MT-CP architecture: the ADE20K
# Mask2Former Swin-S trunk (../backbones/mask2former_swin_s.py: Swin-S,
# deformable-attention pixel decoder, masked-attention decoder, one shared
# 1/4 map of 256 channels) and the released per-task Swin decoders, FPN
# fusion, output layers and losses (../heads/mtcp_release.py), with no CFM
# or trace-back (configs/mtcp/mtcp_swin-s-m2f_*.py add `release_mtcp` of
# the head base). NYUD-v2's three released tasks (semseg, depth, normals)
# by default; dataset configs override `tasks`, `num_classes` and `size`.
_base_ = [
    '../backbones/mask2former_swin_s.py', '../heads/mtcp_release.py',
    '../imagenet_data_preprocessor.py'
]
# the released code normalizes with the ImageNet statistics (RGB), as the
# Mask2Former checkpoints were trained
data_preprocessor = dict(_base_.imagenet_data_preprocessor, size=(480, 640))
model = dict(
    type='MultiTaskSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=_base_.mask2former_swin_s.backbone,
    neck=_base_.mask2former_swin_s.neck,
    decode_head=dict(
        type='MultiTaskBaselineHead',
        align_corners=False,
        **_base_.release_common),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
