# MT-CP parts in an ordinary mmseg setup: mmseg's SegFormer encoder
# (MixVisionTransformer, MiT-B0) with MTCPHead, trained on the synthetic
# scenes; small enough for a CPU.
_base_ = ['../mtcp/mtcp_demo_synthetic.py']
model = dict(
    data_preprocessor=dict(size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=32,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1),
    decode_head=dict(in_channels=[32, 64, 160, 256]))
