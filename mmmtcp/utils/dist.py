"""Multi-process training and testing on machines without GPUs.

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and its
default process group backend is NCCL, and its Runner wraps the model in
DDP with ``device_ids=[LOCAL_RANK]``: all three fail without CUDA. For a
run launched by ``torchrun`` (``tools/dist_train.sh``, ``--launcher
pytorch``) on a CPU-only machine, :func:`adapt_config_to_cpu_distributed`
switches the config to the gloo backend, ``device_ids=None`` and plain
BatchNorm (torch's SyncBatchNorm needs GPUs), and
:func:`init_cpu_distributed` creates the gloo process group from torchrun's
environment before the Runner is built, so the Runner uses it as is. On
machines with GPUs nothing changes.
"""
import logging
import os
from typing import Any

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log


def _revert_sync_bn(node: Any) -> int:
    """Replace ``type='SyncBN'`` by ``'BN'`` in a config tree, in place;
    return how many were replaced."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _revert_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _revert_sync_bn(value)
    return count


def uses_cpu_distributed(launcher: str) -> bool:
    """Whether a run with ``launcher`` is multi-process on CPU only."""
    return launcher != 'none' and not torch.cuda.is_available()


def adapt_config_to_cpu_distributed(cfg: Config) -> None:
    """Make a config trainable/testable by several CPU processes (in place).

    Sets ``env_cfg.dist_cfg.backend='gloo'``, the DDP wrapper's
    ``device_ids=None`` (keeping the other ``model_wrapper_cfg`` keys) and
    replaces SyncBN by BN in the model. Does nothing unless
    ``cfg.launcher`` is not ``'none'`` and CUDA is unavailable.

    Args:
        cfg (Config): The config, with ``launcher`` set.
    """
    if not uses_cpu_distributed(cfg.get('launcher', 'none')):
        return
    env_cfg = cfg.setdefault('env_cfg', dict())
    dist_cfg = env_cfg.setdefault('dist_cfg', dict())
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(
            f'No GPU: using the gloo backend instead of '
            f'{dist_cfg.get("backend", "nccl")!r} (env_cfg.dist_cfg.backend)',
            logger='current',
            level=logging.WARNING)
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if _revert_sync_bn(cfg.model):
        print_log(
            'No GPU: SyncBN layers of the model are built as BN (torch '
            'synchronizes batch statistics on GPUs only); DDP '
            "broadcast_buffers (model_wrapper_cfg) decides whether the ranks' "
            'running statistics are kept equal.',
            logger='current',
            level=logging.WARNING)


def init_cpu_distributed(cfg: Config) -> None:
    """Create the gloo process group of a ``torchrun`` launch on CPU.

    Call it before building the Runner; it does nothing when the config
    does not run multi-process on CPU or the group already exists.

    Args:
        cfg (Config): The config (after
            :func:`adapt_config_to_cpu_distributed`).

    Raises:
        ValueError: For launchers other than ``'pytorch'`` on CPU.
    """
    launcher = cfg.get('launcher', 'none')
    if not uses_cpu_distributed(launcher) or torch_dist.is_initialized():
        return
    if launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher} needs GPUs; on CPU-only machines use '
            '`--launcher pytorch` through tools/dist_train.sh (torchrun).')
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise ValueError(
            f'--launcher pytorch expects the environment of torchrun; '
            f'{missing} are not set. Start the run with '
            '`bash tools/dist_train.sh CONFIG NUM_PROCESSES`.')
    torch_dist.init_process_group(backend='gloo')
