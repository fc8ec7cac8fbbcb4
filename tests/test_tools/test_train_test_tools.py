"""End to end through the tools' entry points: ``tools/train.py`` trains
the MT-CP demo config for a few iterations on CPU and saves, resumes from
the checkpoint, and ``tools/test.py`` evaluates it, writing pictures and
raw predictions."""
import glob
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from mmmtcp.datasets import generate_scenes
from tool_runs import ROOT, run, write_demo_config


def _write_config(path, data_root):
    write_demo_config(path, data_root, """
train_cfg = dict(max_iters=2, val_interval=1000)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=4,
         by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=2, max_keep_ckpts=3))
""")


def _run(args, cwd):
    proc = run(args, cwd=cwd, env=dict(OMP_NUM_THREADS='2'), timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tools')
    data_root = tmp / 'scenes'
    generate_scenes(str(data_root), num_train=4, num_val=2, seed=0)
    cfg = str(tmp / 'demo_tiny.py')
    _write_config(cfg, data_root)
    work_dir = str(tmp / 'work')
    log = _run([
        osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir', work_dir
    ], cwd=str(tmp))
    return dict(tmp=tmp, cfg=cfg, work_dir=work_dir, log=log)


def test_train_saves_checkpoint(trained):
    assert osp.isfile(osp.join(trained['work_dir'], 'iter_2.pth'))
    assert 'loss_semseg' in trained['log']


def test_resume_continues_from_checkpoint(trained):
    log = _run([
        osp.join(ROOT, 'tools', 'train.py'), trained['cfg'], '--work-dir',
        trained['work_dir'], '--resume', '--cfg-options',
        'train_cfg.max_iters=4'
    ],
               cwd=str(trained['tmp']))
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [3/4]' in log
    assert osp.isfile(osp.join(trained['work_dir'], 'iter_4.pth'))


def test_test_tool_writes_metrics_pictures_and_predictions(trained):
    ckpt = osp.join(trained['work_dir'], 'iter_2.pth')
    out_dir = trained['tmp'] / 'preds'
    show_dir = trained['tmp'] / 'vis'
    test_dir = trained['tmp'] / 'test_work'
    _run([
        osp.join(ROOT, 'tools', 'test.py'), trained['cfg'], ckpt,
        '--work-dir',
        str(test_dir), '--out',
        str(out_dir), '--show-dir',
        str(show_dir)
    ],
         cwd=str(trained['tmp']))
    metrics_files = glob.glob(str(test_dir / '*' / '*.json'))
    assert metrics_files
    with open(metrics_files[0]) as f:
        metrics = json.load(f)
    for key in ('semseg.mIoU', 'depth.rmse', 'normals.mean', 'edge.odsF'):
        assert key in metrics and np.isfinite(metrics[key])

    # one picture per image, named after it
    pictures = sorted(glob.glob(str(show_dir / '*.png')))
    assert [osp.basename(p) for p in pictures] == [
        'val_00000.png', 'val_00001.png'
    ]
    for picture in pictures:
        image = cv2.imread(picture)
        assert image is not None and image.shape[1] > 320

    written = sorted(
        osp.relpath(p, out_dir)
        for p in glob.glob(str(out_dir / '**' / '*.*'), recursive=True))
    assert written, 'no raw predictions written'
    depth_files = [p for p in written if p.endswith('.npy')]
    assert len(depth_files) == 2
    depth = np.load(osp.join(out_dir, depth_files[0]))
    assert depth.shape == (240, 320)
