# What the single-task baselines on NYUD-v2 (configs/single_task/
# st_vitl_nyud_*.py) share: the multi-task baseline of
# configs/baseline/mt_baseline_vitl_nyud.py with the head's classes and
# losses cleared. A config names its task in `tasks` (head, data sets and
# metric) and gives the task's classes and loss.
_base_ = ['../baseline/mt_baseline_vitl_nyud.py']
model = dict(
    decode_head=dict(
        num_classes=dict(_delete_=True), loss_decode=dict(_delete_=True)))
