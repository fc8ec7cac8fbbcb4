default_scope = 'mmseg'
custom_imports = dict(imports=['mmmtcp'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='MultiTaskLocalVisualizer',
    vis_backends=vis_backends,
    name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
tta_model = None
# Multi-process runs (tools/dist_train.sh) wrap the model in DDP. Plain BN
# layers keep per-rank running statistics, which drift apart between ranks;
# broadcast_buffers=True copies rank 0's buffers to every rank at each
# forward, so all ranks (and the checkpoints) hold the same statistics.
# Configs for several GPUs use SyncBN, which synchronizes the batch
# statistics themselves; without GPUs SyncBN is built as BN.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel',
    broadcast_buffers=True,
    find_unused_parameters=False)
