"""Safe checkpoint loading: real Runner checkpoints load with
``weights_only=True``; anything else pickled in a checkpoint is refused
without being executed."""
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from torch.utils.data import Dataset

import mmmtcp  # noqa: F401
from mmmtcp.utils import UnsafeCheckpointError, safe_torch_load


class _LinearRegressor(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.linear(inputs).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return out


class _PointDataset(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(
            inputs=torch.tensor([i, 1.0]), targets=torch.tensor(2.0 * i))


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=_LinearRegressor(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=_PointDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=dict(
            type='PolyLR', by_epoch=False, begin=0, end=max_iters),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=2)),
        randomness=dict(seed=0),
        resume=resume)


def test_runner_checkpoint_loads_and_resumes_with_weights_only(tmp_path):
    work_dir = str(tmp_path / 'work')
    _runner(work_dir, max_iters=2).train()
    ckpt = osp.join(work_dir, 'iter_2.pth')
    # The raw file needs more than torch's default allow-list...
    with pytest.raises(Exception):
        torch.load(ckpt, weights_only=True)
    # ...and loads through mmengine's loader, which mmmtcp made safe.
    assert CheckpointLoader._get_checkpoint_loader(ckpt).__name__ == \
        'load_from_local_safely'
    state = safe_torch_load(ckpt)
    assert state['meta']['iter'] == 2
    assert 'train/loss' in state['message_hub']['log_scalars']

    model = _LinearRegressor()
    load_checkpoint(model, ckpt)
    assert torch.equal(model.linear.weight,
                       state['state_dict']['linear.weight'])

    runner = _runner(work_dir, max_iters=4, resume=True)
    runner.train()
    assert runner.iter == 4
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))


class _Payload:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_malicious_checkpoint_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / 'executed'
    ckpt = str(tmp_path / 'evil.pth')
    torch.save(
        dict(state_dict=dict(w=torch.zeros(1)), meta=_Payload(str(marker))),
        ckpt)

    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(_LinearRegressor(), ckpt)
    with pytest.raises(UnsafeCheckpointError, match='system'):
        safe_torch_load(ckpt)
    assert not marker.exists()


class _GetattrPayload:

    def __reduce__(self):
        # HistoryBuffer is allow-listed; reaching into it is not.
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_limited_to_history_buffer_methods(tmp_path):
    ckpt = str(tmp_path / 'getattr.pth')
    torch.save(dict(x=_GetattrPayload()), ckpt)
    with pytest.raises(UnsafeCheckpointError, match='__init__'):
        safe_torch_load(ckpt)
