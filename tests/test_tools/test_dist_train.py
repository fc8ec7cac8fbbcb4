"""Multi-process training on CPU as users start it: ``bash
tools/dist_train.sh CONFIG 2`` (torchrun, ``--launcher pytorch``) on a
machine without GPUs trains with gloo, and both ranks end with identical
parameters, buffers and LPS state."""
import os.path as osp
import sys

import pytest
import torch

from mmmtcp.datasets import generate_scenes
from mmmtcp.utils import safe_torch_load
from tool_runs import ROOT, free_port, run, write_demo_config


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='checks the CPU (gloo) path')
def test_dist_train_sh_on_cpu(tmp_path):
    data_root = tmp_path / 'scenes'
    generate_scenes(str(data_root), num_train=8, num_val=1, height=120,
                    width=160, seed=0)
    cfg = write_demo_config(
        str(tmp_path / 'cfg.py'), data_root, """
train_cfg = dict(max_iters=4, val_interval=1000)
param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0,
                        end=10, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=4, max_keep_ckpts=1))
custom_hooks = _base_.custom_hooks + [dict(type='DumpRankStateHook')]
""")
    work_dir = tmp_path / 'work'
    proc = run([
        'bash',
        osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '2', '--work-dir',
        str(work_dir)
    ],
               cwd=str(tmp_path),
               env=dict(PYTHON=sys.executable, PORT=str(free_port())),
               python=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert 'gloo' in proc.stdout

    ranks = [
        torch.load(str(work_dir / f'rank_state.{r}.pth'), weights_only=False)
        for r in (0, 1)
    ]
    assert ranks[0]['iter'] == ranks[1]['iter'] == 4
    # LPS saw the all-reduced task losses: the same state on both ranks
    assert ranks[0]['balancer'] is not None
    assert ranks[0]['balancer'] == ranks[1]['balancer']
    assert ranks[0]['balancer']['iters'] == 4
    for key, value in ranks[0]['state_dict'].items():
        assert torch.equal(ranks[1]['state_dict'][key], value), key
    # the checkpoint holds that same model
    ckpt = safe_torch_load(str(work_dir / 'iter_4.pth'))['state_dict']
    for key, value in ranks[0]['state_dict'].items():
        assert torch.equal(ckpt[key], value), key
