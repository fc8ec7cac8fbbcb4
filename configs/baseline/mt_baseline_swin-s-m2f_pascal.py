# Plain multi-task baseline of the released MT-CP architecture on
# PASCAL-Context with the release's three tasks (semseg, human parts,
# saliency): the trunk, decoders and outputs of
# ../_base_/models/mt_baseline_swin-s-m2f.py, no CFM or trace-back, and the
# release's recipe (Klodivio355/MT-CP, models/models_pascal_CL.py and
# configs/pascal/MultiTaskModel_PASCAL.yml): 512x512 input with flip, +-20
# degree rotation and 0.75-1.25 zoom, batch 2 per GPU, AdamW lr 5e-5 /
# weight decay 1e-4, poly decay per epoch, 100 epochs, losses summed.
# configs/mtcp/mtcp_swin-s-m2f_pascal.py adds MT-CP's CFM and trace-back;
# ./mt_baseline_swin-s-m2f_pascal-5task.py adds the protocol's normals and
# edges.
_base_ = [
    '../_base_/models/mt_baseline_swin-s-m2f.py',
    '../_base_/datasets/pascal_context_mt_512x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py'
]
tasks = _base_.release_pascal.tasks
model = dict(
    data_preprocessor=dict(size=_base_.img_size),
    decode_head=_base_.release_pascal)
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
log_processor = dict(by_epoch=True)
