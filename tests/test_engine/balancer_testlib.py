"""Shared pieces of the task-balancing tests: a tiny mmseg dataset written as
png files, a tiny EncoderDecoder with an auxiliary head, recording hooks and
the worker of the distributed test."""
import copy
import os
import os.path as osp
import uuid
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModule
from mmengine.runner import Runner

import mmmtcp  # noqa: F401  (registers the hook and balancers)
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import HOOKS, MODELS


@MODELS.register_module(force=True)
class BalancerTestBackbone(BaseModule):
    """Two strided conv stages giving features at 1/2 and 1/4."""

    def __init__(self, in_channels: int = 3,
                 channels: Sequence[int] = (8, 16),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        layers = []
        for out_channels in channels:
            layers.append(
                ConvModule(in_channels, out_channels, 3, stride=2, padding=1,
                           norm_cfg=norm_cfg, act_cfg=dict(type='ReLU')))
            in_channels = out_channels
        self.stages = nn.ModuleList(layers)

    def forward(self, x):
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return tuple(outs)


@MODELS.register_module(force=True)
class NaNInjectEncoderDecoder(EncoderDecoder):
    """EncoderDecoder whose loss entry ``nan_key`` is NaN at the calls of
    ``loss`` listed in ``nan_calls`` (0-based)."""

    def __init__(self, nan_calls=(), nan_key='aux.loss_ce', **kwargs):
        super().__init__(**kwargs)
        self.nan_calls = set(nan_calls)
        self.nan_key = nan_key
        self.num_loss_calls = 0

    def loss(self, inputs, data_samples):
        losses = super().loss(inputs, data_samples)
        if self.num_loss_calls in self.nan_calls:
            losses[self.nan_key] = losses[self.nan_key] * float('nan')
        self.num_loss_calls += 1
        return losses


@HOOKS.register_module(force=True)
class RecordBalanceHook(Hook):
    """Record the logged outputs of every iteration and, for the iterations
    in ``snapshot_iters``, the parameters, buffers and optimizer state before
    and after it."""

    priority = 'LOWEST'

    def __init__(self, snapshot_iters: Sequence[int] = ()):
        self.records: List[Dict[str, float]] = []
        self.snapshot_iters = set(snapshot_iters)
        self.snapshots: Dict[int, dict] = {}

    def _state(self, runner):
        model = runner.model.module if hasattr(runner.model,
                                               'module') else runner.model
        optim = runner.optim_wrapper.optimizer
        return dict(
            model={k: v.detach().clone()
                   for k, v in model.state_dict().items()},
            optim=copy.deepcopy(optim.state_dict()['state']))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter in self.snapshot_iters:
            self.snapshots[runner.iter] = dict(before=self._state(runner))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.records.append(
            {k: float(v) for k, v in (outputs or {}).items()})
        if runner.iter in self.snapshot_iters:
            self.snapshots[runner.iter]['after'] = self._state(runner)


def write_dataset(root: str, num_images: int = 4, height: int = 32,
                  width: int = 40, seed: int = 0) -> str:
    """Write ``num_images`` random images and 3-class label maps as png."""
    rng = np.random.RandomState(seed)
    os.makedirs(osp.join(root, 'img'), exist_ok=True)
    os.makedirs(osp.join(root, 'ann'), exist_ok=True)
    for i in range(num_images):
        label = np.zeros((height, width), np.uint8)
        label[:, width // 3:] = 1
        label[height // 2:, 2 * width // 3:] = 2
        label = np.roll(label, rng.randint(width), axis=1)
        img = (label[..., None] * 70 +
               rng.randint(0, 60, (height, width, 3))).astype(np.uint8)
        cv2.imwrite(osp.join(root, 'img', f'{i:03d}.png'), img)
        cv2.imwrite(osp.join(root, 'ann', f'{i:03d}.png'), label)
    return root


def model_cfg(nan_calls=(), nan_key='aux.loss_ce') -> dict:
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255,
            size_divisor=4),
        backbone=dict(type='BalancerTestBackbone', channels=(8, 16)),
        decode_head=dict(
            type='FCNHead', in_channels=16, in_index=1, channels=8,
            num_convs=1, concat_input=False, num_classes=3, dropout_ratio=0.0,
            norm_cfg=dict(type='BN'), align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        auxiliary_head=dict(
            type='FCNHead', in_channels=8, in_index=0, channels=8,
            num_convs=1, concat_input=False, num_classes=3, dropout_ratio=0.0,
            norm_cfg=dict(type='BN'), align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))
    if nan_calls:
        cfg.update(type='NaNInjectEncoderDecoder', nan_calls=tuple(nan_calls),
                   nan_key=nan_key)
    return cfg


def runner_cfg(work_dir: str,
               data_root: str,
               balancer_hook: Optional[dict],
               max_iters: int,
               record_hook: Optional[dict] = None,
               ckpt_interval: Optional[int] = None,
               model: Optional[dict] = None,
               launcher: str = 'none',
               optimizer: Optional[dict] = None,
               accumulative_counts: int = 1,
               vis_backends: Sequence[dict] = (dict(type='LocalVisBackend'),),
               resume: bool = False,
               optim_wrapper_type: str = 'SkipNonFiniteOptimWrapper',
               divergence: Optional[dict] = None) -> dict:
    """Config dict of a tiny, deterministic training run (with
    ``divergence``, a ``DivergenceHook`` of those arguments)."""
    custom_hooks = [h for h in (balancer_hook, record_hook) if h is not None]
    dataset = dict(
        type='BaseSegDataset',
        data_root=data_root,
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        img_suffix='.png',
        seg_map_suffix='.png',
        metainfo=dict(classes=('a', 'b', 'c'),
                      palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0]]),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')
        ])
    return dict(
        model=model or model_cfg(),
        work_dir=work_dir,
        experiment_name=f'balancer_test_{uuid.uuid4().hex}',
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True, seed=0),
            dataset=dataset),
        train_cfg=dict(
            type='IterBasedTrainLoop', max_iters=max_iters,
            val_interval=10**6),
        optim_wrapper=dict(
            type=optim_wrapper_type,
            optimizer=optimizer
            or dict(type='AdamW', lr=1e-2, weight_decay=0.05),
            accumulative_counts=accumulative_counts),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=1,
                        log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(
                type='CheckpointHook', by_epoch=False,
                interval=ckpt_interval or 10**6, save_last=False),
            sampler_seed=dict(type='DistSamplerSeedHook'),
            **({} if divergence is None else dict(
                divergence=dict(type='DivergenceHook', **divergence)))),
        custom_hooks=custom_hooks,
        log_processor=dict(by_epoch=False),
        visualizer=dict(type='Visualizer',
                        vis_backends=list(vis_backends)),
        default_scope='mmseg',
        randomness=dict(seed=0),
        launcher=launcher,
        resume=resume,
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        # CPU DDP: device_ids must be None (mmengine defaults it to LOCAL_RANK)
        model_wrapper_cfg=dict(
            type='MMDistributedDataParallel', device_ids=None)
        if launcher != 'none' else None)


def build_runner(cfg: dict) -> Runner:
    return Runner.from_cfg(Config(copy.deepcopy(cfg)))


def find_hook(runner: Runner, cls_name: str):
    for hook in runner.hooks:
        if type(hook).__name__ == cls_name:
            return hook
    raise KeyError(cls_name)


def ddp_worker(rank: int, world_size: int, init_file: str, work_dir: str,
               data_root: str, balancers: Sequence[dict], max_iters: int,
               out_file: str, nan_calls_rank0: Sequence[int] = ()) -> None:
    """Train on ``world_size`` CPU processes (gloo), once per balancer, and
    save every rank's logged outputs, balancer state, parameters and
    number of skipped steps to ``out_file.<rank>``. The loss of rank 0
    alone is NaN at its ``loss`` calls ``nan_calls_rank0``."""
    import torch.distributed as torch_dist
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank,
        world_size=world_size)
    results = []
    try:
        for i, balancer in enumerate(balancers):
            cfg = runner_cfg(
                osp.join(work_dir, str(i)), data_root,
                dict(type='TaskBalanceHook', balancer=balancer),
                max_iters,
                record_hook=dict(type='RecordBalanceHook'),
                launcher='pytorch',
                model=model_cfg(nan_calls=nan_calls_rank0 if rank == 0 else
                                ()))
            runner = build_runner(cfg)
            runner.train()
            hook = find_hook(runner, 'TaskBalanceHook')
            record = find_hook(runner, 'RecordBalanceHook')
            results.append(
                dict(records=record.records,
                     state=hook.balancer.get_state(),
                     skipped=runner.optim_wrapper.num_skipped,
                     params={k: v.detach().clone() for k, v in
                             runner.model.module.named_parameters()}))
        torch.save(results, f'{out_file}.{rank}')
    finally:
        torch_dist.destroy_process_group()
