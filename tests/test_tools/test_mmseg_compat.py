"""mmseg's own ``tools/train.py`` and ``tools/test.py`` (the copies shipped
in the installed mmseg package, ``mmseg/.mim/tools``) run a config of
``configs/mixed/`` as a user types them: ``--out`` writes every task's
predictions (mmseg sets ``keep_results=True`` on the evaluator) and
``--show-dir`` writes one multi-task picture per test image; with mmseg's
own visualizer left in place the run says what it will not draw."""
import glob
import os
import os.path as osp
import re

import cv2
import mmseg
import pytest

from mmmtcp.datasets import generate_scenes
from tool_runs import ROOT, run

MMSEG_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')
NUM_VAL = 2


def _write_config(path: str, data_root: str, body: str = '') -> str:
    """The SegFormer config of ``configs/mixed/`` (mmseg's model base,
    runtime and schedule) at 64x96, one iteration, no pretrained weights."""
    base = osp.join(ROOT, 'configs', 'mixed', 'mtcp_mit-b0_synthetic.py')
    text = f"""
_base_ = [{base!r}]
data_root = {str(data_root)!r}
crop_size = (64, 96)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(num_layers=[1, 1, 1, 1]),
    decode_head=dict(channels=16))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size),
    dict(type='MultiTaskPad', size=crop_size),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root,
                                     pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
param_scheduler = []
train_cfg = dict(max_iters=1, val_interval=1000)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=1))
"""
    with open(path, 'w') as f:
        f.write(text + body)
    return path


def _stock(tool: str, args, cwd: str) -> str:
    proc = run([osp.join(MMSEG_TOOLS, tool), *args], cwd=cwd, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    assert osp.isfile(osp.join(MMSEG_TOOLS, 'test.py')), (
        f'mmseg ships its tools in {MMSEG_TOOLS}; the installed mmseg has '
        'none')
    tmp = str(tmp_path_factory.mktemp('mmseg_tools'))
    data_root = osp.join(tmp, 'scenes')
    generate_scenes(data_root, num_train=2, num_val=NUM_VAL, height=64,
                    width=96, seed=0)
    cfg = _write_config(osp.join(tmp, 'mixed_tiny.py'), data_root)
    work_dir = osp.join(tmp, 'work')
    log = _stock('train.py', [cfg, '--work-dir', work_dir], cwd=tmp)
    ckpt = osp.join(work_dir, 'iter_1.pth')
    assert osp.isfile(ckpt), log[-3000:]
    return dict(tmp=tmp, cfg=cfg, ckpt=ckpt, data_root=data_root)


def test_stock_test_out_and_show_dir(trained):
    tmp = trained['tmp']
    out, show = osp.join(tmp, 'preds'), osp.join(tmp, 'vis')
    log = _stock('test.py', [
        trained['cfg'], trained['ckpt'], '--work-dir',
        osp.join(tmp, 'work_test'), '--out', out, '--show-dir', show
    ], cwd=tmp)
    for metric in ('semseg.mIoU', 'depth.rmse', 'normals.mean',
                   'edge.odsF'):
        assert metric in log
    # --out: every task's predictions in the community formats
    for task, ext in (('semseg', 'png'), ('depth', 'npy'),
                      ('normals', 'png'), ('edge', 'png')):
        files = glob.glob(osp.join(out, task, f'*.{ext}'))
        assert len(files) == NUM_VAL, (task, os.listdir(out))
    # --show-dir: one picture per image with a column per task (mmseg's
    # tool leaves the pictures in the visualizer's backend folder)
    pictures = sorted(glob.glob(osp.join(show, '**', '*.png'),
                                recursive=True))
    assert len(pictures) == NUM_VAL, pictures
    # where the README says they are
    for picture in pictures:
        assert re.fullmatch(
            r'test_val_\d{5}\.png_\d+\.png', osp.basename(picture)), picture
        assert osp.dirname(picture) == osp.join(show, 'vis_data', 'vis_image')
    image = cv2.imread(pictures[0])
    assert image.shape[1] >= 5 * 96  # input + four tasks side by side
    assert 'SegLocalVisualizer, which draws only' not in log


def test_stock_runtime_visualizer_is_named(trained):
    """mmseg's SegLocalVisualizer and SegVisualizationHook (kept by a user
    who inherits mmseg's runtime as is): the run warns which maps it will
    draw and how to get every task."""
    tmp = trained['tmp']
    cfg = _write_config(
        osp.join(tmp, 'mixed_stock_vis.py'), trained['data_root'], """
visualizer = dict(_delete_=True, type='SegLocalVisualizer',
                  vis_backends=[dict(type='LocalVisBackend')],
                  name='visualizer')
default_hooks = dict(
    visualization=dict(_delete_=True, type='SegVisualizationHook'))
""")
    log = _stock('test.py', [
        cfg, trained['ckpt'], '--work-dir', osp.join(tmp, 'work_stock')
    ], cwd=tmp)
    assert 'SegLocalVisualizer, which draws only' in log
    assert "type='MultiTaskVisualizationHook'" in log
