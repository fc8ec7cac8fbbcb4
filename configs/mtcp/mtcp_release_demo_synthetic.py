# The released MT-CP form (configs/_base_/heads/mtcp_release_tiny.py) in the
# CPU demo's setting: the same trunk, scenes and schedule as
# mtcp_demo_synthetic_no-lps.py, 3 tasks, losses summed (the release
# computes LPS weights but trains with the plain sum).
_base_ = ['./mtcp_demo_synthetic_no-lps.py',
          '../_base_/heads/mtcp_release_tiny.py']
tasks = _base_.release_tasks
model = dict(
    neck=_base_.release_neck,
    decode_head=dict(
        _delete_=True,
        type='MTCPHead',
        **_base_.release_common,
        **_base_.release_mtcp))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
# the FPN neck computes 4 outputs and the head reads the finest: the other
# outputs' convolutions get no gradient under DDP
find_unused_parameters = True
