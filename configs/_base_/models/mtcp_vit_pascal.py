# MT-CP with a ViT-L/16 backbone on PASCAL-Context: the baseline of
# ./mt_baseline_vit_pascal.py (512x512 input, five tasks, InvPT's loss
# weights) with the CFM and trace-back of ./mtcp_vit.py.
_base_ = ['./mt_baseline_vit_pascal.py']
model = dict(
    decode_head=dict(
        type='MTCPHead',
        cfm=dict(impl='auto', attn_downsample=1, residual=False),
        trace_levels=3,
        side_loss_weight=0.5))
