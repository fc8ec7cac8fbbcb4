"""MultiTaskCheckHook: configs whose model, data sets and evaluators
disagree fail when the Runner starts, with an error naming the config
keys, instead of inside the loss or at the first validation."""
import os.path as osp

import pytest
from mmengine.runner import Runner

from mmmtcp.datasets import generate_scenes
from tool_runs import ROOT, in_process_cfg


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('check') / 'scenes'
    generate_scenes(str(root), num_train=2, num_val=1, height=120,
                    width=160, seed=0)
    return str(root)


def _cfg(tmp_path, data_root, **changes):
    cfg = in_process_cfg(
        osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py'),
        data_root, tmp_path / 'work')
    cfg.train_cfg.max_iters = 1
    cfg.merge_from_dict(changes)
    return cfg


def test_too_few_classes_fail_before_training(tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root,
               **{'model.decode_head.num_classes': dict(semseg=10)})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError,
                       match=r"num_classes\['semseg'\] is 10.*40 classes"):
        runner.train()
    assert runner.iter == 0


def test_evaluator_task_missing_from_head_fails_before_training(
        tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root,
               **{'model.decode_head.tasks': ['semseg', 'depth'],
                  'model.decode_head.num_classes': dict(semseg=40)})
    cfg.train_dataloader.dataset.tasks = ['semseg', 'depth']
    losses = cfg.model.decode_head.loss_decode
    cfg.model.decode_head.loss_decode = {
        k: v
        for k, v in losses.items() if k in ('semseg', 'depth')
    }
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError,
                       match=r"val_evaluator scores task\(s\) "
                       r"\['normals', 'edge'\]"):
        runner.train()
    assert runner.iter == 0
    with pytest.raises(ValueError, match='test_evaluator'):
        runner.test()


def test_head_task_missing_from_dataset_fails(tmp_path, data_root):
    cfg = _cfg(tmp_path, data_root)
    cfg.train_dataloader.dataset.tasks = ['semseg', 'depth']
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r"\['normals', 'edge'\], which "
                       'train_dataloader.dataset does not load'):
        runner.train()
    assert runner.iter == 0
