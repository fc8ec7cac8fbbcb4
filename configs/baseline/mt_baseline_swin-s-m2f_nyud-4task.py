# ./mt_baseline_swin-s-m2f_nyud.py with the protocol's four NYUD-v2 tasks:
# the release's semseg, depth and normals, and edges (balanced BCE, weight
# 50), evaluated with the boundary protocol like every 4-task NYUD-v2
# config. configs/mtcp/mtcp_swin-s-m2f_nyud-4task.py adds MT-CP.
_base_ = ['./mt_baseline_swin-s-m2f_nyud.py']
tasks = ['semseg', 'depth', 'normals', 'edge']
model = dict(
    decode_head=dict(
        tasks=tasks, loss_decode=dict(edge=_base_.protocol_edge_loss)))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
