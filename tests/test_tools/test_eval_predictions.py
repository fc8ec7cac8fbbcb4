"""tools/analysis_tools/eval_predictions.py: evaluation of saved predictions
(the files ``MultiTaskMetric(output_dir=...)`` writes) without a model."""
import json
import os.path as osp
import re
import shutil

import numpy as np
import pytest
from tool_runs import ROOT, load_tool, run

from mmmtcp.apis import offline_evaluation as offline
from mmmtcp.datasets import generate_scenes
from mmmtcp.structures.data_sample import write_prediction

CONFIG = osp.join(ROOT, 'configs', '_base_', 'datasets', 'nyud_mt.py')
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'eval_predictions.py')
TASKS = ('semseg', 'depth', 'normals', 'edge')


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/eval_predictions')


def _gt_maps(tool, data_root):
    """``{stem: {task: H x W (x 3) gt map}}`` of the test set, as the test
    pipeline loads it."""
    cfg = offline.load_eval_config(CONFIG, _options(data_root))
    dataset, _ = offline.build_dataset_and_metric(cfg)
    maps = {}
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        stem = osp.splitext(osp.basename(sample.img_path))[0]
        maps[stem] = dict(
            semseg=sample.gt_sem_seg.data[0].numpy(),
            depth=sample.gt_depth_map.data[0].numpy(),
            normals=sample.gt_normal_map.data.numpy().transpose(1, 2, 0),
            edge=sample.gt_edge_map.data[0].numpy())
    return maps


def _options(data_root):
    return {'test_dataloader.dataset.data_root': str(data_root)}


def _argv(data_root, pred_dir, *extra):
    return [CONFIG, str(pred_dir), *extra, '--cfg-options',
            f'test_dataloader.dataset.data_root={data_root}']


@pytest.fixture(scope='module')
def data(tool, tmp_path_factory):
    """4 synthetic 48x64 test images in the NYUD-v2 layout, their perfect
    predictions and noisy ones."""
    tmp = tmp_path_factory.mktemp('eval_predictions')
    root = tmp / 'nyud'
    generate_scenes(str(root), 0, 4, height=48, width=64)
    rng = np.random.default_rng(0)
    perfect, noisy = tmp / 'perfect', tmp / 'noisy'
    for stem, gt in _gt_maps(tool, root).items():
        seg = np.where(gt['semseg'] == 255, 0, gt['semseg'])
        write_prediction(str(perfect), stem, 'semseg', seg)
        write_prediction(str(perfect), stem, 'depth', gt['depth'])
        write_prediction(str(perfect), stem, 'normals', gt['normals'])
        write_prediction(str(perfect), stem, 'edge',
                         (gt['edge'] == 1).astype(np.float32))
        wrong = rng.random(seg.shape) < 0.2
        seg = np.where(wrong, rng.integers(0, 40, seg.shape), seg)
        write_prediction(str(noisy), stem, 'semseg', seg)
        depth = gt['depth'] + rng.normal(0, 0.2, gt['depth'].shape)
        write_prediction(str(noisy), stem, 'depth',
                         np.maximum(depth, 0.1).astype(np.float32))
        normals = gt['normals'] + rng.normal(0, 0.3, gt['normals'].shape)
        write_prediction(str(noisy), stem, 'normals', normals)
        edge = 0.7 * (gt['edge'] == 1) + 0.3 * rng.random(seg.shape)
        write_prediction(str(noisy), stem, 'edge', edge)
    return dict(root=root, perfect=perfect, noisy=noisy, tmp=tmp)


def test_nproc_does_not_change_the_metrics(tool, data):
    one = tool.main(_argv(data['root'], data['noisy'], '--nproc', '1'))
    two = tool.main(_argv(data['root'], data['noisy'], '--nproc', '2'))
    assert set(one) >= {'semseg.mIoU', 'depth.rmse', 'normals.mean',
                        'edge.odsF', 'edge.oisF'}
    assert all(np.isfinite(v) for v in one.values()), one
    # the per-image stats are folded in data-set order in both cases:
    # identical, floating-point sums included
    assert one == two
    assert 0 < one['semseg.mIoU'] < 100
    assert 0.05 < one['depth.rmse'] < 0.5


def test_perfect_predictions(tool, data):
    metrics = tool.evaluate_predictions(
        CONFIG, str(data['perfect']), nproc=1,
        cfg_options=_options(data['root']), progress=False)
    assert metrics['semseg.mIoU'] == 100
    assert metrics['semseg.aAcc'] == 100
    assert metrics['depth.rmse'] < 1e-6
    assert metrics['depth.abs_rel'] < 1e-6
    # normals are quantized to uint8 in the PNG
    assert metrics['normals.mean'] < 1.0
    assert metrics['normals.within_11_25'] == 100


def test_read_prediction_inverts_write_prediction(tool, tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 40, (6, 8))
    labels[0, 0] = -1  # NONFINITE_LABEL: written as 255
    write_prediction(str(tmp_path), 'x', 'semseg', labels)
    back = tool.read_prediction(str(tmp_path), 'x', 'semseg')
    assert back.dtype == np.int64
    np.testing.assert_array_equal(back, labels)
    depth = rng.uniform(0.5, 5, (6, 8)).astype(np.float32)
    write_prediction(str(tmp_path), 'x', 'depth', depth)
    np.testing.assert_array_equal(
        tool.read_prediction(str(tmp_path), 'x', 'depth'), depth)
    normals = rng.normal(size=(6, 8, 3))
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    write_prediction(str(tmp_path), 'x', 'normals', normals)
    back = tool.read_prediction(str(tmp_path), 'x', 'normals')
    assert back.shape == (6, 8, 3) and back.dtype == np.float32
    assert np.abs(back - normals).max() <= 1 / 255 + 1e-6
    prob = rng.random((6, 8))
    write_prediction(str(tmp_path), 'x', 'edge', prob)
    back = tool.read_prediction(str(tmp_path), 'x', 'edge')
    np.testing.assert_allclose(back, np.round(prob * 255) / 255, atol=1e-6)


@pytest.mark.parametrize('nproc', [1, 2])
def test_missing_prediction_file(tool, data, nproc, tmp_path):
    pred_dir = tmp_path / 'preds'
    shutil.copytree(data['noisy'], pred_dir)
    missing = pred_dir / 'edge' / 'val_00002.png'
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        tool.main(_argv(data['root'], pred_dir, '--nproc', str(nproc)))


def test_command_line(tool, data, tmp_path):
    out = tmp_path / 'metrics.json'
    proc = run([TOOL, *_argv(data['root'], data['noisy'], '--nproc', '2',
                             '--out', str(out))], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert '| edge.odsF' in proc.stdout
    written = json.loads(out.read_text())
    expected = tool.evaluate_predictions(
        CONFIG, str(data['noisy']), nproc=1,
        cfg_options=_options(data['root']), progress=False)
    assert written == pytest.approx(expected, rel=1e-12)
    # errors: a message naming the file and a non-zero exit code
    proc = run([TOOL, *_argv(data['root'], tmp_path / 'nowhere')],
               cwd=str(tmp_path))
    assert proc.returncode != 0
    assert 'nowhere does not exist' in proc.stdout
    assert 'Traceback' not in proc.stdout
