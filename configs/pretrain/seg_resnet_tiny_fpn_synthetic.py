# Segmentation pretraining of the trunk of the released MT-CP form on the
# CPU demo (configs/mtcp/mtcp_release_demo_synthetic.py): the narrow
# ResNet-18 and the FPN neck whose finest output is the shared map, the
# stand-in for the release's ADE20K Mask2Former (Swin-S backbone and pixel
# decoder). The schedule and scenes are those of seg_resnet_tiny_synthetic.py.
_base_ = ['./seg_resnet_tiny_synthetic.py',
          '../_base_/heads/mtcp_release_tiny.py']
model = dict(
    neck=_base_.release_neck,
    decode_head=dict(
        _delete_=True,
        type='MultiTaskBaselineHead',
        **dict(
            _base_.release_common,
            tasks=['semseg'],
            loss_decode=dict(),
            side_loss_decode=dict())))
