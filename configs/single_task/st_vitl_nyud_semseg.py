# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# NYUD-v2, task 'semseg' only (one decoder + output).
_base_ = ['../_base_/single_task_vitl_nyud.py']
tasks = ['semseg']
model = dict(
    decode_head=dict(
        tasks=tasks,
        num_classes=dict(semseg=40),
        loss_decode=dict(
            semseg=dict(type='CrossEntropyLoss', avg_non_ignore=True))))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
