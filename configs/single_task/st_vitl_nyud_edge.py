# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# NYUD-v2, task 'edge' only (one decoder + output).
_base_ = ['../baseline/mt_baseline_vitl_nyud.py']
tasks = ['edge']
model = dict(
    decode_head=dict(
        tasks=tasks,
        num_classes=dict(_delete_=True),
        loss_decode=dict(
            _delete_=True,
            edge=dict(
                type='BalancedBCELoss',
                pos_weight=0.95,
                loss_weight=50.0))))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(tasks=tasks)
test_evaluator = val_evaluator
