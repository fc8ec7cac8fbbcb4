# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# PASCAL-Context, task 'saliency' only (one decoder + output).
_base_ = ['../_base_/single_task_vitl_pascal.py']
tasks = ['saliency']
model = dict(
    decode_head=dict(
        tasks=tasks,
        loss_decode=dict(
            saliency=dict(
                type='BalancedBCELoss', pos_weight=None, loss_weight=5.0))))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
