"""MultiTaskMetric through mmengine's Evaluator with real SegDataSamples."""
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import mmmtcp  # noqa: F401
from mmmtcp.evaluation import MultiTaskMetric
from mmmtcp.tasks import get_task
from mmmtcp.functional.geometry import flip_intrinsics, scale_intrinsics
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

H, W = 30, 40
INTRINSICS = dict(fx=518.858, fy=519.470, cx=325.582, cy=253.736, width=640,
                  height=480)
META = dict(
    classes=('a', 'b', 'c'),
    palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0]],
    human_parts_classes=tuple(f'p{i}' for i in range(7)),
    camera_intrinsics=INTRINSICS,
    normal_axes=('right', 'up', 'toward_camera'))
init_default_scope('mmseg')
ALL_TASKS = ['semseg', 'depth', 'normals', 'edge', 'human_parts', 'saliency']


def planar_scene(seed: int, intrinsics: dict = INTRINSICS):
    """Geometrically consistent maps of a tilted plane (two label regions)
    seen by a camera with ``intrinsics`` (scaled to ``W x H``)."""
    rng = np.random.default_rng(seed)
    k = scale_intrinsics(intrinsics, W, H)
    fx, fy, cx, cy = k['fx'], k['fy'], k['cx'], k['cy']
    n_cv = np.array([0.2, -0.3, -1.0]) + rng.normal(0, 0.05, 3)
    n_cv /= np.linalg.norm(n_cv)
    u = (np.arange(W) - cx) / fx
    v = (np.arange(H) - cy) / fy
    depth = -2.0 / (n_cv[0] * u[None] + n_cv[1] * v[:, None] + n_cv[2])
    normals = np.broadcast_to(n_cv * np.array([1, -1, -1]),
                              (H, W, 3)).copy()
    seg = np.zeros((H, W), np.int64)
    seg[:, 20:] = 1
    seg[:5, :5] = 255
    edge = np.zeros((H, W), np.int64)
    edge[:, 20] = 1
    sal = (seg == 1).astype(np.int64)
    parts = np.where(seg == 255, 255, seg * 3)
    return dict(semseg=seg, depth=depth.astype(np.float32),
                normals=normals.astype(np.float32), edge=edge,
                human_parts=parts, saliency=sal)


def to_pixel(task: str, array: np.ndarray, pred: bool) -> PixelData:
    if task == 'normals':
        tensor = torch.from_numpy(np.ascontiguousarray(
            array.transpose(2, 0, 1))).float()
    elif pred and task in ('edge', 'saliency', 'depth'):
        tensor = torch.from_numpy(array[None].astype(np.float32))
    elif task == 'depth':
        tensor = torch.from_numpy(array[None].astype(np.float32))
    else:
        tensor = torch.from_numpy(array[None].astype(np.int64))
    return PixelData(data=tensor)


def make_sample(name: str, gts: dict, preds: dict,
                **metainfo) -> SegDataSample:
    sample = SegDataSample(metainfo=dict(
        img_path=f'/data/images/{name}.png', ori_shape=(H, W),
        img_shape=(H, W), **metainfo))
    for task, gt in gts.items():
        spec = get_task(task)
        sample.set_field(to_pixel(task, gt, False), spec.gt_field)
        sample.set_field(to_pixel(task, preds[task], True), spec.pred_field)
    return sample


def perfect_preds(gts: dict) -> dict:
    preds = dict(gts)
    preds['semseg'] = np.where(gts['semseg'] == 255, 0, gts['semseg'])
    preds['human_parts'] = np.where(gts['human_parts'] == 255, 0,
                                    gts['human_parts'])
    preds['edge'] = gts['edge'].astype(np.float32)
    preds['saliency'] = gts['saliency'].astype(np.float32)
    return preds


def run(metric_cfg: dict, samples, batch_size: int) -> dict:
    evaluator = Evaluator(metric_cfg)
    evaluator.dataset_meta = META
    for i in range(0, len(samples), batch_size):
        evaluator.process(samples[i:i + batch_size])
    return evaluator.evaluate(len(samples))


def test_perfect_predictions_and_coherence_on_gt():
    scenes = [planar_scene(i) for i in range(3)]
    samples = [make_sample(f'img{i}', s, perfect_preds(s))
               for i, s in enumerate(scenes)]
    # without the protocol's non-maximum suppression, which attenuates the
    # 5 pixels next to the image border, and its thin(seg2bmap(gt)), which
    # shortens a line touching the border by a pixel (both tested in
    # test_boundary_protocol.py)
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, coherence=True,
               edge_tolerance=0.03, num_thresholds=9, edge_nms=False,
               edge_gt_boundaries=False)
    out = run(cfg, samples, batch_size=2)
    assert out['semseg.mIoU'] == pytest.approx(100)
    assert out['semseg.aAcc'] == pytest.approx(100)
    assert out['human_parts.mIoU'] == pytest.approx(100)
    assert out['depth.rmse'] == pytest.approx(0, abs=1e-5)
    assert out['normals.mean'] == pytest.approx(0, abs=1e-2)
    assert out['normals.within_11_25'] == pytest.approx(100)
    assert out['saliency.maxF'] == pytest.approx(100)
    assert out['edge.odsF'] == pytest.approx(100)
    assert out['edge.oisF'] == pytest.approx(100)
    # the geometry is consistent: normals of the depth match the normals
    assert out['coherence.normal_depth_angle'] == pytest.approx(0, abs=1e-3)
    assert out['coherence_gt.normal_depth_angle'] == pytest.approx(
        0, abs=1e-3)
    # the edge map is the label boundary
    assert out['coherence.edge_seg_F'] > 90
    assert out['coherence_gt.edge_seg_F'] > 90
    assert 'delta_m' not in out


def test_batches_equal_one_batch_and_registry():
    rng = np.random.default_rng(3)
    samples = []
    for i in range(5):
        gts = planar_scene(i)
        preds = perfect_preds(gts)
        preds['semseg'] = rng.integers(0, 3, (H, W))
        preds['human_parts'] = rng.integers(0, 7, (H, W))
        preds['depth'] = gts['depth'] + rng.normal(0, 0.2, (H, W))
        preds['normals'] = gts['normals'] + rng.normal(0, 0.3, (H, W, 3))
        preds['edge'] = rng.random((H, W)).astype(np.float32)
        preds['saliency'] = rng.random((H, W)).astype(np.float32)
        samples.append(make_sample(f'r{i}', gts, preds))
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, coherence=True,
               num_thresholds=9)
    one = run(cfg, samples, batch_size=5)
    many = run(cfg, samples, batch_size=2)
    single = run(cfg, samples, batch_size=1)
    assert one.keys() == many.keys() == single.keys()
    for key in one:
        assert one[key] == pytest.approx(many[key]), key
        assert one[key] == pytest.approx(single[key]), key
    assert 0 < one['semseg.mIoU'] < 60
    assert 0 < one['depth.rmse'] < 0.5
    assert isinstance(METRICS.build(dict(type='MultiTaskMetric',
                                         tasks=['depth'])), MultiTaskMetric)


def test_all_invalid_image_changes_nothing():
    gts = planar_scene(0)
    preds = perfect_preds(gts)
    preds['depth'] = gts['depth'] + 0.5
    empty = {k: np.full_like(v, 255) for k, v in gts.items()}
    empty['depth'] = np.zeros_like(gts['depth'])
    empty['normals'] = np.zeros_like(gts['normals'])
    junk = {k: np.ones_like(v) for k, v in preds.items()}
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, num_thresholds=9)
    base = run(cfg, [make_sample('a', gts, preds)], 1)
    both = run(cfg, [make_sample('a', gts, preds),
                     make_sample('b', empty, junk)], 1)
    for key in base:
        assert base[key] == pytest.approx(both[key]), key
    assert base['depth.rmse'] == pytest.approx(0.5, abs=1e-5)


def test_delta_m_signs():
    metric = MultiTaskMetric(
        tasks=['semseg', 'depth'],
        baselines=dict(semseg=50.0, depth=dict(rmse=1.0)))
    # +10 % mIoU and 10 % larger (worse) RMSE cancel
    assert metric.delta_m(dict(semseg=dict(mIoU=55.0), depth=dict(
        rmse=1.1))) == pytest.approx(0)
    # +20 % mIoU and 10 % lower (better) RMSE
    assert metric.delta_m(dict(semseg=dict(mIoU=60.0), depth=dict(
        rmse=0.9))) == pytest.approx(15)
    worse = MultiTaskMetric(tasks=['normals'], baselines=dict(
        normals=dict(mean=20.0, within_30=80.0)))
    # mean 22 (-10 %), within_30 72 (-10 %)
    assert worse.delta_m(dict(normals=dict(mean=22.0, within_30=72.0))) == \
        pytest.approx(-10)
    # a relative gain against a reference of 0 is undefined, not an error
    # (the study tool pairs runs whose measures can be 0)
    from mmmtcp.evaluation.metrics.multi_task_metric import multi_task_gain
    assert math.isnan(
        multi_task_gain(dict(semseg=dict(mIoU=0.0), depth=dict(rmse=1.0)),
                        dict(semseg=dict(mIoU=0.0), depth=dict(rmse=1.0))))
    with pytest.raises(ValueError, match="baselines has task 'edge'"):
        MultiTaskMetric(tasks=['semseg'], baselines=dict(edge=70.0))
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        MultiTaskMetric(tasks=['semseg'], baselines=dict(semseg=dict(acc=1)))


def test_delta_m_through_evaluator():
    gts = planar_scene(1)
    preds = perfect_preds(gts)
    preds['depth'] = gts['depth'] + 0.5  # rmse 0.5
    cfg = dict(type='MultiTaskMetric', tasks=['semseg', 'depth'],
               baselines=dict(semseg=dict(mIoU=80.0), depth=dict(rmse=0.25)))
    out = run(cfg, [make_sample('x', gts, preds)], 1)
    expected = ((100 - 80) / 80 - (0.5 - 0.25) / 0.25) / 2 * 100  # -37.5
    assert out['delta_m'] == pytest.approx(expected, rel=1e-4)


def test_coherence_wrong_normal_angle():
    gts = planar_scene(2)
    preds = perfect_preds(gts)
    preds['normals'] = np.zeros_like(gts['normals'])
    preds['normals'][..., 2] = 1.0
    true_n = gts['normals'][0, 0].astype(np.float64)
    expected = math.degrees(math.acos(true_n[2] / np.linalg.norm(true_n)))
    cfg = dict(type='MultiTaskMetric', tasks=['depth', 'normals'],
               coherence=True)
    out = run(cfg, [make_sample('y', gts, preds)], 1)
    assert out['coherence.normal_depth_angle'] == pytest.approx(
        expected, abs=1e-3)
    assert out['normals.mean'] == pytest.approx(expected, abs=1e-3)
    assert out['coherence_gt.normal_depth_angle'] == pytest.approx(
        0, abs=1e-3)
    assert 'coherence.edge_seg_F' not in out


def test_coherence_reads_the_sample_intrinsics():
    """Depth and normals of a camera other than the data set's (as after a
    crop or zoom): coherent only with the sample's own intrinsics."""
    cam = dict(fx=60., fy=58., cx=25.0, cy=12.0, width=W, height=H)
    gts = planar_scene(1, cam)
    cfg = dict(type='MultiTaskMetric', tasks=['depth', 'normals'],
               coherence=True)

    def angle(**metainfo) -> float:
        sample = make_sample('c', gts, perfect_preds(gts), **metainfo)
        out = run(cfg, [sample], 1)
        assert out['coherence.normal_depth_angle'] == pytest.approx(
            out['coherence_gt.normal_depth_angle'])
        return out['coherence_gt.normal_depth_angle']

    # dataset_meta's camera (NYUD-v2 at 640x480) does not describe the maps
    assert angle() > 5
    assert angle(camera_intrinsics=cam) == pytest.approx(0, abs=1e-3)
    # given at another resolution (a test pipeline resized the image and
    # did not load annotations): scaled to the maps
    assert angle(camera_intrinsics=scale_intrinsics(cam, 3 * W, 2 * H)) == \
        pytest.approx(0, abs=1e-3)
    # the image was flipped: the predictions were flipped back, so are the
    # intrinsics
    flipped = flip_intrinsics(cam, 'horizontal')
    assert angle(camera_intrinsics=flipped, flip=True,
                 flip_direction='horizontal') == pytest.approx(0, abs=1e-3)
    assert angle(camera_intrinsics=flipped) > 0.5
    # no intrinsics anywhere: an error naming both places
    evaluator = Evaluator(cfg)
    evaluator.dataset_meta = {k: v for k, v in META.items()
                              if k != 'camera_intrinsics'}
    with pytest.raises(KeyError, match='camera_intrinsics'):
        evaluator.process([make_sample('c', gts, perfect_preds(gts))])
    evaluator.process([make_sample('c', gts, perfect_preds(gts),
                                   camera_intrinsics=cam)])


def test_coherence_edge_seg_disagreement():
    gts = planar_scene(0)
    preds = perfect_preds(gts)
    preds['edge'] = np.zeros((H, W), np.float32)
    preds['edge'][:, 5] = 0.9  # far from the label boundary at column 20
    cfg = dict(type='MultiTaskMetric', tasks=['semseg', 'edge'],
               coherence=True, coherence_on_gt=False, num_thresholds=9)
    out = run(cfg, [make_sample('z', gts, preds)], 1)
    assert out['coherence.edge_seg_F'] == 0
    assert 'coherence_gt.edge_seg_F' not in out


def test_errors_name_the_fault():
    gts = planar_scene(0)
    sample = make_sample('q', {'depth': gts['depth']},
                         {'depth': gts['depth'][:, :10]})
    evaluator = Evaluator(dict(type='MultiTaskMetric', tasks=['depth']))
    evaluator.dataset_meta = META
    with pytest.raises(ValueError, match='differ in size'):
        evaluator.process([sample])
    evaluator = Evaluator(dict(type='MultiTaskMetric', tasks=['semseg']))
    evaluator.dataset_meta = META
    with pytest.raises(KeyError, match='pred_sem_seg'):
        evaluator.process([make_sample('q', {}, {})])
    evaluator.dataset_meta = {}
    sample = make_sample('q', {'semseg': gts['semseg']},
                         {'semseg': gts['semseg']})
    with pytest.raises(KeyError, match="dataset_meta\\['classes'\\]"):
        evaluator.process([sample])
    with pytest.raises(ValueError, match='unknown task'):
        MultiTaskMetric(tasks=['semseg', 'flow'])


def test_output_dir_files(tmp_path):
    gts = planar_scene(4)
    preds = perfect_preds(gts)
    preds['edge'] = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    out_dir = str(tmp_path / 'preds')
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, output_dir=out_dir,
               num_thresholds=5)
    run(cfg, [make_sample('img7', gts, preds)], 1)
    seg = cv2.imread(osp.join(out_dir, 'semseg', 'img7.png'),
                     cv2.IMREAD_UNCHANGED)
    assert seg.dtype == np.uint8 and (seg == preds['semseg']).all()
    parts = cv2.imread(osp.join(out_dir, 'human_parts', 'img7.png'),
                       cv2.IMREAD_UNCHANGED)
    assert (parts == preds['human_parts']).all()
    depth = np.load(osp.join(out_dir, 'depth', 'img7.npy'))
    assert depth.dtype == np.float32
    assert np.allclose(depth, preds['depth'])
    bgr = cv2.imread(osp.join(out_dir, 'normals', 'img7.png'))
    decoded = 2 * bgr[..., ::-1].astype(np.float64) / 255 - 1
    assert np.abs(decoded - preds['normals']).max() <= 1 / 255 + 1e-6
    edge = cv2.imread(osp.join(out_dir, 'edge', 'img7.png'),
                      cv2.IMREAD_UNCHANGED)
    assert np.abs(edge / 255.0 - preds['edge']).max() <= 0.5 / 255 + 1e-6
    sal = cv2.imread(osp.join(out_dir, 'saliency', 'img7.png'),
                     cv2.IMREAD_UNCHANGED)
    assert set(np.unique(sal)) <= {0, 255}
    assert ((sal == 255) == (preds['saliency'] == 1)).all()
