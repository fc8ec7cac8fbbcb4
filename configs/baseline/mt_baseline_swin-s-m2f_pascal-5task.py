# Baseline of configs/mtcp/mtcp_swin-s-m2f_pascal-5task.py: the same
# Mask2Former Swin-S trunk, per-task Swin decoders, output layers, losses,
# data and recipe; its head is the MT-CP head's without what
# `release_mtcp` adds (no CFM or trace-back).
_base_ = ['../mtcp/mtcp_swin-s-m2f_pascal-5task.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='MultiTaskBaselineHead',
        **{
            key: value
            for key, value in _base_.model.decode_head.items()
            if key != 'type' and key not in _base_.release_mtcp
        }))
