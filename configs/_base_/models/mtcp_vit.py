# MT-CP with a ViT-L/16 backbone (mmpretrain), NYUD-v2 tasks by default: the
# backbone, neck, task decoders and losses of ./mt_baseline_vit.py, and
# every task gets a Coherence Fusion Module and a Spatial Refinement
# trace-back (MTCPHead). Dataset configs override `tasks`, `num_classes`,
# `size` and `img_size`.
_base_ = ['./mt_baseline_vit.py']
model = dict(
    decode_head=dict(
        type='MTCPHead',
        # impl='auto' computes the HWxHW affinity exactly (row blocks on
        # the CPU, keeping up to keep_bytes=1 GiB of it for backward; fused
        # attention kernels on a GPU); attn_downsample > 1 pools the
        # sending positions (cheaper, not the reference function);
        # with_cp=True recomputes the layers around the affinity and the
        # affinity itself in backward to save training memory.
        cfm=dict(impl='auto', attn_downsample=1, residual=False),
        trace_levels=3,
        side_loss_weight=0.5))
