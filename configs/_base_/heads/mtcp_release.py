# The MT-CP head of the released code (Klodivio355/MT-CP,
# models/models_nyud_CL.py and models_pascal_CL.py) at its own widths: every
# task decoder reads ONE shared 1/4 map of 256 channels (the Mask2Former
# trunk's, configs/_base_/backbones/mask2former_swin_s.py). Every difference
# from mmmtcp's default MT-CP head is an option of its own:
# - `decoder`: a small Swin per task on that map (depths 1/2/1, heads
#   2/2/2, window 7, embed 256, `SwinTaskDecoder`) with the release's FPN
#   fusion (`DynamicFPNFusionModule`: no norm, no activation, nearest
#   upsampling, `FPNFusion`); the trace-back walks the Swin stages' outputs
#   (`pyramid='lateral'`);
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
# ./mtcp_release_tiny.py narrows it to the CPU demo's trunk.
release_tasks = ['semseg', 'depth', 'normals']
release_common = dict(
    tasks=release_tasks,
    num_classes=dict(semseg=40),
    in_channels=[256],
    in_index=[0],
    channels=256,
    decoder=dict(
        type='SwinTaskDecoder',
        embed_dims=256,
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
# PASCAL-Context as the release trains it (models_pascal_CL.py,
# MultiTaskModel_PASCAL.yml): semseg, human parts and saliency with the
# tasks' default losses (cross-entropy, cross-entropy, balanced BCE),
# weights 1; merged into `decode_head` over `release_common`.
release_pascal = dict(
    tasks=['semseg', 'human_parts', 'saliency'],
    num_classes=dict(_delete_=True, semseg=21, human_parts=7),
    loss_decode=dict(_delete_=True),
    side_loss_decode=dict(_delete_=True))
# The protocol's tasks that the release does not train (NYUD-v2 edges,
# PASCAL-Context normals and edges) keep the release's normals losses and
# the protocol's (InvPT's) edge loss, weight 50.
protocol_edge_loss = dict(
    type='BalancedBCELoss', pos_weight=0.95, loss_weight=50.0)
