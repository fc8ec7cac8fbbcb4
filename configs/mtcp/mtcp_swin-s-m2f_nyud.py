# MT-CP as released (Klodivio355/MT-CP), NYUD-v2 with the release's three tasks
# (semseg, depth, normals): everything of its baseline,
# configs/baseline/mt_baseline_swin-s-m2f_nyud.py (trunk, per-task Swin
# decoders, outputs, losses, data, recipe), and per task the CFM and the
# trace-back with two intermediate predictions, the final prediction read from
# the trace-back (`release_mtcp` of configs/_base_/heads/mtcp_release.py).
_base_ = ['../baseline/mt_baseline_swin-s-m2f_nyud.py']
model = dict(decode_head=dict(type='MTCPHead', **_base_.release_mtcp))
