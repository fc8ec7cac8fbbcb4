# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# PASCAL-Context, task 'normals' only (one decoder + output).
_base_ = ['../baseline/mt_baseline_vitl_pascal.py']
tasks = ['normals']
model = dict(
    decode_head=dict(
        tasks=tasks,
        num_classes=dict(_delete_=True),
        loss_decode=dict(
            _delete_=True,
            normals=dict(
                type='NormalL1Loss'))))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(tasks=tasks)
test_evaluator = val_evaluator
