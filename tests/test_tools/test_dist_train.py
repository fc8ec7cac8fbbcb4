"""Multi-process training on CPU as users start it: ``bash
tools/dist_train.sh CONFIG 2`` (torchrun, ``--launcher pytorch``) on a
machine without GPUs trains with gloo, and both ranks end with identical
parameters, buffers and LPS state."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from mmmtcp.datasets import generate_scenes
from mmmtcp.utils import safe_torch_load

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='checks the CPU (gloo) path')
def test_dist_train_sh_on_cpu(tmp_path):
    data_root = tmp_path / 'scenes'
    generate_scenes(str(data_root), num_train=8, num_val=1, height=120,
                    width=160, seed=0)
    base = osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py')
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"""
_base_ = [{base!r}]
custom_imports = dict(imports=['mmmtcp', 'probe_hooks'],
                      allow_failed_imports=False)
data_root = {str(data_root)!r}
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=4, val_interval=1000)
param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0,
                        end=10, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=4, max_keep_ckpts=1))
custom_hooks = _base_.custom_hooks + [dict(type='DumpRankStateHook')]
""")
    work_dir = tmp_path / 'work'
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
        PORT=str(_free_port()))
    env['PYTHONPATH'] = os.pathsep.join(
        [osp.join(ROOT, 'tests', '_helpers'),
         env.get('PYTHONPATH', '')])
    proc = subprocess.run([
        'bash',
        osp.join(ROOT, 'tools', 'dist_train.sh'),
        str(cfg), '2', '--work-dir',
        str(work_dir)
    ],
                          cwd=str(tmp_path),
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=900)
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
