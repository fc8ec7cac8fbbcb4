# Single-task baseline (for the multi-task gain delta_m): ViT-L/16,
# NYUD-v2, task 'edge' only (one decoder + output).
_base_ = ['../_base_/single_task_vitl_nyud.py']
tasks = ['edge']
model = dict(
    decode_head=dict(
        tasks=tasks,
        loss_decode=dict(
            edge=dict(
                type='BalancedBCELoss', pos_weight=0.95, loss_weight=50.0))))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
