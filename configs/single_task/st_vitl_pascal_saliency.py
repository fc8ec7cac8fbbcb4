# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# PASCAL-Context, task 'saliency' only (one decoder + output).
_base_ = ['../baseline/mt_baseline_vitl_pascal.py']
tasks = ['saliency']
model = dict(
    decode_head=dict(
        tasks=tasks,
        num_classes=dict(_delete_=True),
        loss_decode=dict(
            _delete_=True,
            saliency=dict(
                type='BalancedBCELoss',
                pos_weight=None,
                loss_weight=5.0))))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(tasks=tasks)
test_evaluator = val_evaluator
