"""The example of docs/en/add_a_task.md runs as written: the albedo scenes
of ``tools/generate_synthetic_scenes.py --albedo`` and
``configs/examples/mtcp_albedo_synthetic.py`` train and test in the
Runner, with albedo metrics."""
import os.path as osp

import cv2
import numpy as np
from mmengine.runner import Runner

from mmmtcp.datasets import generate_scenes
from tool_runs import ROOT, in_process_cfg


def test_albedo_example(tmp_path):
    data_root = str(tmp_path / 'scenes')
    generate_scenes(data_root, num_train=2, num_val=1, height=120,
                    width=160, seed=0, albedo=True)
    albedo = cv2.imread(osp.join(data_root, 'albedo', 'val_00000.png'))
    assert albedo.shape == (120, 160, 3)

    cfg = in_process_cfg(
        osp.join(ROOT, 'configs', 'examples', 'mtcp_albedo_synthetic.py'),
        data_root, tmp_path / 'work')
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 100
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    for key in ('albedo.mae', 'albedo.rmse', 'semseg.mIoU', 'normals.mean'):
        assert np.isfinite(metrics[key]), key
