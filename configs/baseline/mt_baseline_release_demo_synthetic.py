# Baseline of configs/mtcp/mtcp_release_demo_synthetic.py: the same trunk
# (with the FPN neck), the same per-task Swin decoders, output layers and
# losses, no CFM or trace-back.
_base_ = ['../mtcp/mtcp_release_demo_synthetic.py']
model = dict(
    decode_head=dict(
        _delete_=True, type='MultiTaskBaselineHead',
        **_base_.release_common))
