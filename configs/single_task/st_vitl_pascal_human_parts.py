# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# PASCAL-Context, task 'human_parts' only (one decoder + output).
_base_ = ['../_base_/single_task_vitl_pascal.py']
tasks = ['human_parts']
model = dict(
    decode_head=dict(
        tasks=tasks,
        num_classes=dict(human_parts=7),
        loss_decode=dict(
            human_parts=dict(
                type='CrossEntropyLoss', avg_non_ignore=True,
                loss_weight=2.0))))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
