# MT-CP as released (Klodivio355/MT-CP, models/models_nyud_CL.py): the trunk,
# task decoders, outputs and losses of ./mt_baseline_swin-s-m2f.py, and per
# task the CFM (`GAAF_module2`) and the trace-back with two intermediate
# predictions, the final prediction read from the trace-back
# (../heads/mtcp_release.py, `release_mtcp`).
_base_ = ['./mt_baseline_swin-s-m2f.py']
model = dict(decode_head=dict(type='MTCPHead', **_base_.release_mtcp))
