"""A task of one's own, added from outside the package: an ``albedo`` map
(3-channel regression) declared in the config, read from its own folder of
a tiny NYUD-layout data set, trained and tested with the MT-CP head in the
Runner, scored by its kind's metric and drawn in the pictures; a kind
registered from this file is used by the model; unknown kinds and kinds
without a capability fail with errors naming them."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.runner import Runner

from mmmtcp.datasets import generate_scenes
from mmmtcp.registry import TASK_KINDS
from mmmtcp.tasks import BaseTaskKind, RegressionKind
from mmmtcp.tasks import TASKS, check_tasks, get_task, register_task
from tool_runs import ROOT, in_process_cfg

ALBEDO = dict(name='albedo', kind='regression', channels=3)


@TASK_KINDS.register_module(name='unit_rgb', force=True)
class UnitRGBKind(RegressionKind):
    """A kind of this test file: RGB in [0, 1], predicted through a
    sigmoid."""

    name = 'unit_rgb'

    def activate(self, out):
        return out.sigmoid()


@TASK_KINDS.register_module(name='no_metric', force=True)
class NoMetricKind(BaseTaskKind):
    name = 'no_metric'


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('albedo') / 'scenes'
    generate_scenes(str(root), num_train=4, num_val=2, height=120,
                    width=160, seed=0)
    os.makedirs(root / 'albedo')
    for path in glob.glob(str(root / 'images' / '*.png')):
        stem = osp.splitext(osp.basename(path))[0]
        rgb = cv2.imread(path)[..., ::-1].astype(np.float32) / 255
        rgb[:10, :10] = np.nan  # some invalid pixels
        np.save(root / 'albedo' / f'{stem}.npy', rgb)
    return str(root)


def _cfg(tmp_path, data_root):
    cfg = in_process_cfg(
        osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py'),
        data_root, tmp_path / 'work')
    tasks = ['semseg', 'depth', ALBEDO]
    cfg.model.decode_head.tasks = tasks
    cfg.model.decode_head.loss_decode = dict()
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.tasks = tasks
    cfg.val_evaluator.tasks = tasks
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg.max_iters = 3
    cfg.train_cfg.val_interval = 100
    cfg.default_hooks.checkpoint.interval = 3
    cfg.default_hooks.visualization = dict(
        type='MultiTaskVisualizationHook', draw=True, interval=1)
    cfg.visualizer.save_dir = str(tmp_path / 'pictures')
    return cfg


def test_albedo_trains_tests_scores_and_draws(tmp_path, data_root):
    runner = Runner.from_cfg(_cfg(tmp_path, data_root))
    assert get_task('albedo').kind_impl.channels == 3
    runner.train()
    metrics = runner.test()
    assert np.isfinite(metrics['albedo.mae'])
    assert np.isfinite(metrics['albedo.rmse'])
    assert metrics['albedo.rmse'] >= metrics['albedo.mae'] > 0
    assert 'semseg.mIoU' in metrics and 'depth.rmse' in metrics

    # the model predicts 3 albedo channels, unconstrained (regression)
    head = runner.model.decode_head
    assert head.out_channels['albedo'] == 3

    # one picture per test image, with a column for albedo
    pictures = glob.glob(
        str(tmp_path / 'pictures' / '**' / 'test_*.png'), recursive=True)
    assert len(pictures) == 2
    picture = cv2.imread(pictures[0])
    visualizer = runner.visualizer
    _, cols, _, height = visualizer.layout((120, 160),
                                           ['semseg', 'depth', 'albedo'])
    assert picture.shape[:2] == (height, cols * 160)


def test_a_kind_registered_outside_is_used(tmp_path):
    spec = register_task(dict(name='shading_rgb', kind='unit_rgb',
                              channels=3))
    assert isinstance(spec.kind_impl, UnitRGBKind)
    out = torch.randn(3, 4, 5) * 10
    pred = spec.kind_impl.activate(out)
    assert float(pred.min()) >= 0 and float(pred.max()) <= 1
    # packing and resizing follow the kind: NaN stays invalid
    gt = np.random.rand(8, 10, 3).astype(np.float32)
    gt[:2, :2] = np.nan  # a whole output pixel's footprint
    packed = spec.kind_impl.pack(gt)
    assert packed.shape == (3, 8, 10) and packed.dtype == torch.float32
    small = spec.kind_impl.resize(gt, (4, 5))
    assert small.shape == (4, 5, 3) and np.isnan(small[0, 0]).all()


def test_unknown_kind_and_missing_capability_are_named():
    with pytest.raises(ValueError, match=r"kind 'no_such_kind'.*not "
                       'registered'):
        check_tasks([dict(name='flow', kind='no_such_kind', channels=2)],
                    'model.decode_head.tasks')
    assert 'flow' not in TASKS
    spec = register_task(dict(name='mystery', kind='no_metric'))
    with pytest.raises(NotImplementedError,
                       match="task kind 'no_metric'.*has no stats"):
        spec.kind_impl.stats(np.zeros((2, 2)), np.zeros((2, 2)))
    # a conflicting redeclaration is refused
    with pytest.raises(ValueError, match='already declared'):
        register_task(dict(name='mystery', kind='regression'))
