# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# PASCAL-Context, task 'human_parts' only (one decoder + output).
_base_ = ['../baseline/mt_baseline_vitl_pascal.py']
tasks = ['human_parts']
model = dict(
    decode_head=dict(
        tasks=tasks,
        num_classes=dict(_delete_=True, human_parts=7),
        loss_decode=dict(
            _delete_=True,
            human_parts=dict(
                type='CrossEntropyLoss',
                avg_non_ignore=True,
                loss_weight=2.0))))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(tasks=tasks)
test_evaluator = val_evaluator
