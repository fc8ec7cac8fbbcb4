# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# NYUD-v2, task 'normals' only (one decoder + output).
_base_ = ['../_base_/single_task_vitl_nyud.py']
tasks = ['normals']
model = dict(
    decode_head=dict(
        tasks=tasks,
        loss_decode=dict(normals=dict(type='NormalL1Loss'))))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
