# The released MT-CP head (./mtcp_release.py) at the width of the CPU demo's
# trunk (the narrow ResNet-18 of configs/_base_/models/mtcp_resnet_tiny.py):
# `release_neck` makes the trunk yield ONE shared 1/4 map, as the release's
# Mask2Former pixel decoder does: an FPN whose finest output the head reads
# (`in_index=[0]`). Everything else is the release's form, 32 channels wide.
_base_ = ['./mtcp_release.py']
release_neck = dict(
    type='FPN', in_channels=[16, 32, 64, 128], out_channels=32, num_outs=4)
release_common = dict(
    in_channels=[32], channels=32, decoder=dict(embed_dims=32))
