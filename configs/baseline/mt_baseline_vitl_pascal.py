# Plain multi-task baseline, ViT-L/16, PASCAL-Context, same recipe as
# configs/mtcp/mtcp_vitl_pascal.py (the MT-CP reference's).
_base_ = [
    '../_base_/models/mt_baseline_vit_pascal.py',
    '../_base_/datasets/pascal_context_mt_512x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py'
]
log_processor = dict(by_epoch=True)
