# The released MT-CP head (Klodivio355/MT-CP, models/models_nyud_CL.py) at
# the width of the CPU demo's trunk (the narrow ResNet-18 of
# configs/_base_/models/mtcp_resnet_tiny.py). Every difference from
# mmmtcp's default MT-CP head is an option of its own:
# - `release_neck`: the trunk yields ONE shared 1/4 map (the release reads
#   the Mask2Former pixel decoder's 1/4 output): an FPN whose finest output
#   the head reads (`in_index=[0]`);
# - `decoder`: a small Swin per task on that map (depths 1/2/1, heads
#   2/2/2, window 7, `SwinTaskDecoder`) with the release's FPN fusion (no
#   norm, no activation, nearest upsampling, `FPNFusion`); the trace-back
#   walks the Swin stages' outputs (`pyramid='lateral'`);
# - `cfm` (`GAAF_module2`): unscaled softmax over all positions, CBAM
#   reduction 16, BN momentum 0.01 in the CBAMs' spatial gates; `srm`: the
#   same CBAMs;
# - `side_head='reference'`: conv-conv-BN-ReLU-conv side heads;
# - `refine='reference'`: the final prediction from the trace-back only;
# - normals: squared error on the unnormalized prediction for the main
#   output, L1 for the side outputs, averaged over valid components;
# - `release_tasks`: 3 tasks (semseg, depth, normals), as the released
#   NYUD-v2 run (no edges).
# `release_common` is what the baseline shares (trunk, decoders, outputs,
# losses); `release_mtcp` adds the CFM and the trace-back.
release_tasks = ['semseg', 'depth', 'normals']
release_neck = dict(
    type='FPN', in_channels=[16, 32, 64, 128], out_channels=32, num_outs=4)
release_common = dict(
    tasks=release_tasks,
    num_classes=dict(semseg=40),
    in_channels=[32],
    in_index=[0],
    channels=32,
    decoder=dict(
        type='SwinTaskDecoder',
        embed_dims=32,
        depths=(1, 2, 1),
        num_heads=(2, 2, 2),
        window_size=7,
        pyramid='lateral',
        fusion=dict(upsample_mode='nearest', norm_cfg=None, act_cfg=None)),
    norm_cfg=dict(type='BN', requires_grad=True),
    side_head='reference',
    side_loss_weight=0.5,
    loss_decode=dict(normals=dict(type='ComponentNormalLoss', p=2)),
    side_loss_decode=dict(normals=dict(type='ComponentNormalLoss', p=1)))
release_cbam_norm_cfg = dict(type='BN', momentum=0.01, requires_grad=True)
release_mtcp = dict(
    cfm=dict(
        impl='auto',
        attn_downsample=1,
        attn_scale=1.0,
        reduction=16,
        cbam_norm_cfg=release_cbam_norm_cfg),
    srm=dict(reduction=16, cbam_norm_cfg=release_cbam_norm_cfg),
    trace_levels=3,
    refine='reference')
