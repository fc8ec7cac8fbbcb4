# The data preprocessor of the trunks pretrained on ImageNet-normalized RGB
# (mmseg's ResNets, the Swin-S Mask2Former): ImageNet mean and std, images
# padded with 0 and label maps with 255, test images to a multiple of 32.
# A model base adds its training `size` or `size_divisor`:
# `data_preprocessor = dict(_base_.imagenet_data_preprocessor, size=...)`.
imagenet_data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    test_cfg=dict(size_divisor=32))
