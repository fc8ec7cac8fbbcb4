# Plain multi-task baseline of the released MT-CP architecture on NYUD-v2
# with the release's three tasks (semseg, depth, normals): the ADE20K
# Mask2Former Swin-S trunk, per-task Swin decoders, output layers and losses
# (../_base_/models/mt_baseline_swin-s-m2f.py), no CFM or trace-back, and
# the release's recipe (Klodivio355/MT-CP, configs/nyud/MT_simple_final.yml):
# the full 480x640 input with flip and zoom, batch 2 per GPU, AdamW lr 5e-5 /
# weight decay 1e-4, poly decay per epoch, 100 epochs, losses summed (the
# release computes prioritization weights but trains with the plain sum).
# configs/mtcp/mtcp_swin-s-m2f_nyud.py adds MT-CP's CFM and trace-back;
# ./mt_baseline_swin-s-m2f_nyud-4task.py adds the protocol's edge task.
_base_ = [
    '../_base_/models/mt_baseline_swin-s-m2f.py',
    '../_base_/datasets/nyud_mt_480x640.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_100e.py'
]
tasks = _base_.release_tasks
model = dict(data_preprocessor=dict(size=_base_.img_size))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
log_processor = dict(by_epoch=True)
