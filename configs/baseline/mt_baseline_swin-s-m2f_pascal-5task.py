# ./mt_baseline_swin-s-m2f_pascal.py with the protocol's five PASCAL-Context
# tasks: the release's semseg, human parts and saliency, and normals (the
# release's NYUD-v2 normals losses) and edges (balanced BCE, weight 50).
# configs/mtcp/mtcp_swin-s-m2f_pascal-5task.py adds MT-CP.
_base_ = ['./mt_baseline_swin-s-m2f_pascal.py']
tasks = ['semseg', 'human_parts', 'saliency', 'normals', 'edge']
model = dict(
    decode_head=dict(
        tasks=tasks,
        loss_decode=dict(
            normals=_base_.release_common.loss_decode.normals,
            edge=_base_.protocol_edge_loss),
        side_loss_decode=_base_.release_common.side_loss_decode))
train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(tasks=tasks))
val_evaluator = test_evaluator = dict(tasks=tasks)
