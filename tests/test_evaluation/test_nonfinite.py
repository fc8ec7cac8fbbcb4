"""Non-finite predictions (NaN, +inf, -inf) are scored as the worst error,
counted and reported, never a crash or a NaN metric."""
import json
import logging
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from dist_eval import eval_worker
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from test_multi_task_metric import (ALL_TASKS, META, H, W, make_sample,
                                    perfect_preds, planar_scene, run)
from tool_runs import free_port

from mmmtcp.evaluation import MultiTaskMetric
from mmmtcp.functional import (ANGLE_BIN_WIDTH, NONFINITE_LABEL, depth_stats,
                               edge_seg_stats, edge_stats, label_stats,
                               normal_depth_stats, normal_stats,
                               saliency_stats, summarize_depth,
                               summarize_edges, summarize_labels,
                               summarize_normals, summarize_saliency,
                               thresholds_between)
from mmmtcp.tasks import get_task

NAN, INF = float('nan'), float('inf')
LOG_FLOOR = 1e-9
NORMAL_KEYS = ('within_11_25', 'within_22_5', 'within_30')


class _Records(logging.Handler):
    """Collects the records of a logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records():
    """Records of mmengine's current logger (``print_log(logger='current')``)
    during the test; MMLogger does not propagate to the root logger, so
    caplog would not see them."""
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def nonfinite_warnings(records, name: str):
    return [
        r for r in records if r.levelno == logging.WARNING
        and f' {name}: ' in r.getMessage() and 'non-finite' in r.getMessage()
    ]


def worst_depth(gt: np.ndarray, where: np.ndarray):
    """Hand rule of depth_stats: the worst prediction in [0, D]."""
    g_all = gt[gt > 0].astype(np.float64)
    far = g_all.max()
    g = gt[where].astype(np.float64)
    abs_err = np.maximum(g, far - g)
    log_err = np.maximum(np.log(g / LOG_FLOOR), np.log(far / g))
    return abs_err, log_err


# ----------------------------------------------------------- functional ----
def test_label_stats_nonfinite_is_a_miss_of_no_class():
    gt = np.array([[0, 0, 1], [1, 2, 255]])
    for pred in (np.full(gt.shape, NAN), np.full(gt.shape, NONFINITE_LABEL)):
        stats = label_stats(pred, gt, num_classes=3)
        assert stats['confusion'].sum() == 0
        assert stats['nonfinite'].tolist() == [2, 2, 1]
        out = summarize_labels(stats)
        assert out['mIoU'] == 0 and out['aAcc'] == 0
    # partly: class 0 TP 1 + 1 miss -> 1/2; class 1 TP 2 -> 1; class 2 one
    # miss -> 0; the marker on the ignored pixel does not count
    for pred in (np.array([[0, -1, 1], [1, -1, -1]]),
                 np.array([[0, NAN, 1], [1, -INF, NAN]])):
        stats = label_stats(pred, gt, num_classes=3)
        assert stats['nonfinite'].tolist() == [1, 0, 1]
        out = summarize_labels(stats)
        assert out['mIoU'] == pytest.approx((0.5 + 1 + 0) / 3 * 100)
        assert out['aAcc'] == pytest.approx(3 / 5 * 100)
        assert out['IoU'].tolist() == pytest.approx([50, 100, 0])
    # other out-of-range predictions are still an error
    with pytest.raises(ValueError, match='predicted label'):
        label_stats(np.array([[-2, 0, 0], [0, 0, 0]]), gt, 3)


def test_depth_nonfinite_is_worst_in_range_and_finite():
    gt = np.array([[1., 2.], [0., 4.]])
    # all NaN, D = 4: errors max(1, 3) = 3, max(2, 2) = 2, max(4, 0) = 4
    stats = depth_stats(np.full(gt.shape, NAN), gt)
    assert stats['nonfinite'] == 3
    out = summarize_depth(stats)
    assert out['rmse'] == pytest.approx(math.sqrt((9 + 4 + 16) / 3))
    assert out['abs_rel'] == pytest.approx((3 / 1 + 2 / 2 + 4 / 4) / 3)
    logs = [math.log(g / LOG_FLOOR) for g in (1, 2, 4)]
    assert out['log_rmse'] == pytest.approx(
        math.sqrt(sum(v * v for v in logs) / 3))
    # no constant prediction in [0, D] is worse on any depth metric
    for p in np.linspace(0, 4, 41):
        finite = summarize_depth(depth_stats(np.full(gt.shape, p), gt))
        for key in out:
            assert finite[key] <= out[key] + 1e-12, (p, key)
    # partly: NaN at g=1 (error 3), exact at g=2, +inf at g=4 (error 4),
    # -inf on the invalid pixel ignored
    pred = np.array([[NAN, 2.], [-INF, INF]])
    stats = depth_stats(pred, gt)
    assert stats['nonfinite'] == 2
    out = summarize_depth(stats)
    assert out['rmse'] == pytest.approx(math.sqrt((9 + 0 + 16) / 3))
    assert out['abs_rel'] == pytest.approx((3 + 0 + 1) / 3)
    assert out['log_rmse'] == pytest.approx(
        math.sqrt((math.log(1e9)**2 + math.log(4e9)**2) / 3))
    assert all(np.isfinite(v) for v in out.values())


def test_normals_nonfinite_is_180_degrees():
    gt = np.zeros((2, 2, 3))
    gt[..., 2] = 1
    gt[1, 1] = 0  # invalid
    stats = normal_stats(np.full((2, 2, 3), NAN), gt)
    assert stats['nonfinite'] == 3 and stats['hist'][-1] == 3
    out = summarize_normals(stats)
    assert out['mean'] == 180 and out['rmse'] == 180
    assert out['median'] == pytest.approx(180, abs=ANGLE_BIN_WIDTH)
    assert all(out[k] == 0 for k in NORMAL_KEYS)
    pred = np.zeros((2, 2, 3))
    pred[0, 0] = (0, 0, 1)  # 0 deg
    pred[0, 1] = (NAN, 0, 1)  # one bad component -> 180
    pred[1, 0] = (0, INF, 1)  # 180
    pred[1, 1] = (NAN, NAN, NAN)  # invalid gt: not counted
    stats = normal_stats(pred, gt)
    assert stats['nonfinite'] == 2
    out = summarize_normals(stats)
    assert out['mean'] == pytest.approx(120)
    assert out['rmse'] == pytest.approx(math.sqrt(2 * 180**2 / 3))
    assert out['median'] == pytest.approx(180, abs=ANGLE_BIN_WIDTH)
    assert all(out[k] == pytest.approx(100 / 3) for k in NORMAL_KEYS)


def test_saliency_nonfinite_is_wrong_at_every_threshold():
    thr = thresholds_between(19)
    gt = np.array([[0, 1, 1, 0, 255]])
    stats = saliency_stats(np.full(gt.shape, NAN), gt, thr)
    assert stats['nonfinite'] == 4
    out = summarize_saliency(stats)
    assert out['maxF'] == 0 and out['mIoU'] == 0
    # NaN on bg -> positive, +inf on fg -> negative, -inf on bg ->
    # positive; 0.6 on fg is the only true positive (t <= 0.6)
    prob = np.array([[NAN, INF, 0.6, -INF, NAN]])
    stats = saliency_stats(prob, gt, thr)
    assert stats['nonfinite'] == 3
    out = summarize_saliency(stats)
    p, r = 1 / 3, 1 / 2
    assert out['maxF'] == pytest.approx(1.3 * p * r / (0.3 * p + r) * 100)
    # at 0.5: confusion [[0, 2], [1, 1]] -> IoU bg 0, fg 1/4
    assert stats['confusion'].tolist() == [[0, 2], [1, 1]]
    assert out['mIoU'] == pytest.approx(12.5)


def _line(shape, col):
    out = np.zeros(shape)
    out[5:35, col] = 1
    return out


def test_edge_nonfinite_is_an_unmatched_boundary_pixel():
    shape = (40, 40)
    tol = 1.5 / math.hypot(*shape)
    thr = thresholds_between(9)
    gt = _line(shape, 10).astype(np.int64)
    # the rule itself, without the protocol's suppression and gt boundaries
    stats = edge_stats(np.full(shape, NAN), gt, tol, thr, nms=False,
                       gt_boundaries=False)
    assert stats['nonfinite'] == 1600
    assert (stats['counts'] == [0, 1600, 0, 30]).all()
    out = summarize_edges(stats)
    assert out['odsF'] == 0 and out['oisF'] == 0
    # exact line at 0.8 with a NaN pixel on it (row 20) and a 4-pixel
    # +inf block far away; a NaN in the ignored region does not count
    prob = _line(shape, 10) * 0.8
    prob[20, 10] = NAN
    prob[30:32, 30:32] = INF
    gt[:, 36:] = 255
    prob[10, 38] = NAN
    stats = edge_stats(prob, gt, tol, thr, nms=False, gt_boundaries=False)
    assert stats['nonfinite'] == 5
    # t < 0.8: 29 predicted pixels, all matched, + 5 unmatched; matching is
    # one-to-one, so the 29 recall 29 of the 30 gt pixels
    assert stats['counts'][0].tolist() == [29, 34, 29, 30]
    assert stats['counts'][-1].tolist() == [0, 5, 0, 30]
    p, r = 29 / 34, 29 / 30
    assert summarize_edges(stats)['odsF'] == pytest.approx(
        100 * 2 * p * r / (p + r))


def test_coherence_nonfinite_is_worst():
    h, w = 12, 14
    fx, fy, cx, cy = 20.0, 20.0, 6.5, 5.5
    depth = np.full((h, w), 2.0)  # fronto-parallel plane
    normals = np.zeros((h, w, 3))
    normals[..., 2] = 1  # toward the camera
    axes = ('right', 'up', 'toward_camera')
    clean = normal_depth_stats(depth, normals, (fx, fy, cx, cy), axes)
    assert clean['count'] == (h - 2) * (w - 2) and clean['nonfinite'] == 0
    assert clean['sum'] == pytest.approx(0, abs=1e-6)
    depth[5, 6] = NAN  # the pixel and its 4 neighbours -> 180
    normals[9, 2] = (INF, 0, 1)  # one more
    normals[0, 0] = NAN  # border: derived normal undefined, not used
    stats = normal_depth_stats(depth, normals, (fx, fy, cx, cy), axes)
    assert stats['count'] == (h - 2) * (w - 2)
    assert stats['nonfinite'] == 6
    assert stats['sum'] == pytest.approx(6 * 180, abs=1e-6)
    all_nan = normal_depth_stats(
        np.full((h, w), NAN), normals, (fx, fy, cx, cy), axes)
    assert all_nan['count'] == all_nan['nonfinite'] == (h - 2) * (w - 2)
    assert all_nan['sum'] == pytest.approx(180 * (h - 2) * (w - 2))

    labels = np.zeros((20, 20), np.int64)
    labels[:, 10:] = 1
    edge = np.zeros((20, 20))
    edge[:, 10] = 0.9
    base = edge_seg_stats(edge, labels, 1.5)['counts']
    edge[2:4, 2:4] = NAN  # 4 unmatched edge pixels
    labels[15:17, 3:5] = NONFINITE_LABEL  # 4 unrecalled label pixels
    stats = edge_seg_stats(edge, labels, 1.5)
    assert stats['nonfinite'] == 8
    assert (stats['counts'] == base + [0, 4, 0, 4]).all()
    worst = edge_seg_stats(np.full((20, 20), NAN),
                           np.full((20, 20), NONFINITE_LABEL), 1.5)
    assert worst['counts'].tolist() == [0, 400, 0, 400]


# --------------------------------------------------------------- metric ----
def all_nonfinite_preds(gts: dict) -> dict:
    preds = {}
    for task, gt in gts.items():
        if get_task(task).kind == 'label':
            preds[task] = np.full(gt.shape, NONFINITE_LABEL, np.int64)
        else:
            preds[task] = np.full(gt.shape, NAN, np.float32)
    return preds


def test_metric_all_nonfinite(log_records):
    gts = planar_scene(0)
    samples = [make_sample(f'n{i}', gts, all_nonfinite_preds(gts))
               for i in range(2)]
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, coherence=True,
               num_thresholds=9)
    out = run(cfg, samples, batch_size=1)
    assert all(np.isfinite(v) for v in out.values())
    for task in ('semseg', 'human_parts'):
        assert out[f'{task}.mIoU'] == 0 and out[f'{task}.aAcc'] == 0
    abs_err, log_err = worst_depth(gts['depth'], gts['depth'] > 0)
    assert out['depth.rmse'] == pytest.approx(
        math.sqrt((abs_err**2).mean()))
    assert out['depth.abs_rel'] == pytest.approx(
        (abs_err / gts['depth'][gts['depth'] > 0]).mean())
    assert out['depth.log_rmse'] == pytest.approx(
        math.sqrt((log_err**2).mean()))
    assert out['normals.mean'] == 180 and out['normals.rmse'] == 180
    assert out['normals.median'] == pytest.approx(180, abs=ANGLE_BIN_WIDTH)
    assert all(out[f'normals.{k}'] == 0 for k in NORMAL_KEYS)
    assert out['saliency.maxF'] == 0 and out['saliency.mIoU'] == 0
    assert out['edge.odsF'] == 0 and out['edge.oisF'] == 0
    valid_seg = int((gts['semseg'] != 255).sum())
    expected = dict(semseg=valid_seg, human_parts=valid_seg, depth=H * W,
                    normals=H * W, edge=H * W, saliency=H * W)
    for task, count in expected.items():
        assert out[f'{task}.nonfinite_pixels'] == 2 * count, task
        found = nonfinite_warnings(log_records, task)
        assert len(found) == 1, task
        assert f'{2 * count} evaluated pixels' in found[0].getMessage()
    # coherence: every interior pixel 180 degrees, no boundary agreement
    inner = (H - 2) * (W - 2)
    assert out['coherence.normal_depth_angle'] == pytest.approx(180)
    assert out['coherence.normal_depth_angle.nonfinite_pixels'] == 2 * inner
    assert out['coherence.edge_seg_F'] == 0
    assert out['coherence.edge_seg_F.nonfinite_pixels'] == 2 * 2 * H * W
    assert len(nonfinite_warnings(log_records,
                                  'coherence.normal_depth_angle')) == 1
    # the ground-truth reference is unaffected
    assert out['coherence_gt.normal_depth_angle'] == pytest.approx(
        0, abs=1e-3)
    assert not any(k.startswith('coherence_gt') and 'nonfinite' in k
                   for k in out)


def test_metric_partly_nonfinite(log_records):
    gts = planar_scene(1)
    preds = perfect_preds(gts)
    preds['semseg'] = preds['semseg'].copy()
    preds['semseg'][0:2, 10:15] = NONFINITE_LABEL  # 10 pixels of class 0
    preds['semseg'][0, 0] = NONFINITE_LABEL  # ignored gt: not counted
    preds['depth'] = gts['depth'].copy()
    preds['depth'][5, 5], preds['depth'][6, 6] = NAN, INF
    preds['depth'][7, 7] = -INF
    preds['normals'] = gts['normals'].copy()
    preds['normals'][0, 0, 1] = NAN
    preds['normals'][1, 1] = (INF, 0, 0)
    preds['edge'] = gts['edge'].astype(np.float32)  # column 20
    preds['edge'][15, 20] = NAN  # a gap in the line
    preds['edge'][10:12, 5:7] = NAN  # 4 pixels far from it
    preds['saliency'] = gts['saliency'].astype(np.float32)
    preds['saliency'][0, 0] = NAN  # background pixel
    preds['saliency'][0, 30] = NAN  # foreground pixel
    sample = make_sample('p', gts, preds)
    # human parts as a float map with NaN / inf (2 pixels of class 3)
    parts = preds['human_parts'].astype(np.float32)
    parts[10, 25], parts[11, 25] = NAN, INF
    sample.set_field(PixelData(data=torch.from_numpy(parts[None])),
                     'pred_human_parts')
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, num_thresholds=9,
               edge_nms=False, edge_gt_boundaries=False)
    out = run(cfg, [sample], 1)
    # semseg: class 0 575 valid pixels, 10 missed; class 1 perfect
    assert out['semseg.mIoU'] == pytest.approx((565 / 575 + 1) / 2 * 100)
    assert out['semseg.aAcc'] == pytest.approx(1165 / 1175 * 100)
    assert out['human_parts.mIoU'] == pytest.approx((1 + 598 / 600) / 2 *
                                                    100)
    assert out['human_parts.aAcc'] == pytest.approx(1173 / 1175 * 100)
    bad = np.zeros((H, W), bool)
    bad[[5, 6, 7], [5, 6, 7]] = True
    abs_err, log_err = worst_depth(gts['depth'], bad)
    n = H * W
    assert out['depth.rmse'] == pytest.approx(
        math.sqrt((abs_err**2).sum() / n), rel=1e-5)
    assert out['depth.abs_rel'] == pytest.approx(
        (abs_err / gts['depth'][bad]).sum() / n, rel=1e-5)
    assert out['depth.log_rmse'] == pytest.approx(
        math.sqrt((log_err**2).sum() / n), rel=1e-5)
    assert out['normals.mean'] == pytest.approx(2 * 180 / n, abs=1e-3)
    assert out['normals.rmse'] == pytest.approx(
        math.sqrt(2 * 180**2 / n), abs=1e-3)
    for key in NORMAL_KEYS:
        assert out[f'normals.{key}'] == pytest.approx((n - 2) / n * 100)
    # edge (tolerance 0.55 px, exact matching): 29 of 30 line pixels
    # predicted and matched, 5 unmatched non-finite pixels
    p, r = 29 / 34, 29 / 30
    assert out['edge.odsF'] == pytest.approx(100 * 2 * p * r / (p + r))
    assert out['edge.oisF'] == pytest.approx(out['edge.odsF'])
    # saliency: 600 fg / 600 bg; one FN and one FP at every threshold
    assert out['saliency.maxF'] == pytest.approx(599 / 600 * 100)
    assert out['saliency.mIoU'] == pytest.approx(599 / 601 * 100)
    expected = dict(semseg=10, human_parts=2, depth=3, normals=2, edge=5,
                    saliency=2)
    for task, count in expected.items():
        assert out[f'{task}.nonfinite_pixels'] == count, task
        assert len(nonfinite_warnings(log_records, task)) == 1, task


def test_metric_coherence_partly_nonfinite(log_records):
    gts = planar_scene(2)
    preds = perfect_preds(gts)
    preds['depth'] = gts['depth'].copy()
    preds['depth'][10, 10] = NAN  # itself and 4 neighbours: 180
    preds['normals'] = gts['normals'].copy()
    preds['normals'][20, 30] = NAN  # one more
    cfg = dict(type='MultiTaskMetric', tasks=['depth', 'normals'],
               coherence=True, coherence_on_gt=False)
    out = run(cfg, [make_sample('c', gts, preds)], 1)
    inner = (H - 2) * (W - 2)
    assert out['coherence.normal_depth_angle'] == pytest.approx(
        6 * 180 / inner, abs=1e-3)
    assert out['coherence.normal_depth_angle.nonfinite_pixels'] == 6
    assert out['depth.nonfinite_pixels'] == 1
    assert out['normals.nonfinite_pixels'] == 1
    assert out['normals.mean'] == pytest.approx(180 / (H * W), abs=1e-3)
    assert len(nonfinite_warnings(log_records,
                                  'coherence.normal_depth_angle')) == 1


def test_metric_finite_reports_nothing_and_warns_per_evaluation(
        log_records):
    gts = planar_scene(3)
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, num_thresholds=5)
    out = run(cfg, [make_sample('f', gts, perfect_preds(gts))], 1)
    assert not any('nonfinite' in k for k in out)
    assert not any('non-finite' in r.getMessage() for r in log_records)
    # one warning per task and evaluation, whatever the number of images
    # and batches; a second evaluation warns again
    metric = MultiTaskMetric(tasks=['depth', 'normals'])
    metric.dataset_meta = META
    bad = all_nonfinite_preds(gts)
    for _ in range(2):
        for i in range(3):
            metric.process(None, [make_sample(f'e{i}', gts, bad).to_dict()])
        result = metric.evaluate(3)
        assert result['depth.nonfinite_pixels'] == 3 * H * W
    for task in ('depth', 'normals'):
        found = nonfinite_warnings(log_records, task)
        assert len(found) == 2, task
        assert 'evaluation 1' in found[0].getMessage()
        assert 'evaluation 2' in found[1].getMessage()


def test_output_dir_with_nonfinite_predictions(tmp_path):
    gts = planar_scene(4)
    out_dir = str(tmp_path / 'preds')
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, output_dir=out_dir,
               num_thresholds=5)
    run(cfg, [make_sample('img9', gts, all_nonfinite_preds(gts))], 1)
    seg = cv2.imread(osp.join(out_dir, 'semseg', 'img9.png'),
                     cv2.IMREAD_UNCHANGED)
    assert (seg == 255).all()
    for task in ('edge', 'saliency'):
        img = cv2.imread(osp.join(out_dir, task, 'img9.png'),
                         cv2.IMREAD_UNCHANGED)
        assert (img == 0).all()
    assert np.isnan(np.load(osp.join(out_dir, 'depth', 'img9.npy'))).all()


# ------------------------------------------------------------ segmentor ----
def tiny_segmentor():
    head = dict(
        type='MultiTaskBaselineHead',
        tasks=ALL_TASKS,
        num_classes=dict(semseg=3, human_parts=7),
        in_channels=[8, 16, 32, 64],
        channels=8,
        decoder=dict(num_convs=1))
    return MODELS.build(
        dict(
            type='MultiTaskSegmentor',
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                stem_channels=8,
                base_channels=8,
                norm_cfg=dict(type='BN')),
            decode_head=head))


def test_segmentor_marks_nonfinite_logits_for_the_metric(log_records):
    """NaN logits would be turned into a class by argmax, -inf depth into 0
    and +-inf edge / saliency logits into 1 / 0; the segmentor marks them
    so that the metric scores and reports them."""
    gts = planar_scene(0)
    raw = {}
    for task, key in (('semseg', 'classes'),
                      ('human_parts', 'human_parts_classes')):
        num = len(META[key])
        labels = torch.from_numpy(np.where(gts[task] == 255, 0, gts[task]))
        raw[task] = torch.nn.functional.one_hot(labels, num).permute(
            2, 0, 1)[None].float() * 10
    raw['semseg'][0, 1, 3, 10] = NAN  # argmax would pick class 1
    raw['semseg'][0, 0, 4, 10] = INF
    raw['depth'] = torch.from_numpy(gts['depth'])[None, None].clone()
    raw['depth'][0, 0, 5, 5] = -INF  # clamp would make it 0
    raw['normals'] = torch.from_numpy(gts['normals']).permute(
        2, 0, 1)[None].clone()
    raw['normals'][0, 2, 6, 6] = NAN
    raw['edge'] = torch.from_numpy(gts['edge'] * 20.0 - 10)[None,
                                                             None].float()
    raw['edge'][0, 0, 7, 7] = INF  # sigmoid would make it 1
    raw['saliency'] = torch.from_numpy(gts['saliency'] * 20.0 -
                                       10)[None, None].float()
    raw['saliency'][0, 0, 8, 30] = -INF  # foreground; sigmoid -> 0
    model = tiny_segmentor().eval()
    sample = make_sample('s', gts, perfect_preds(gts))
    sample = model.postprocess_result(raw, [sample])[0]
    seg = sample.pred_sem_seg.data[0]
    assert seg[3, 10] == NONFINITE_LABEL and seg[4, 10] == NONFINITE_LABEL
    assert seg.dtype == torch.int64 and (seg >= 0).sum() == H * W - 2
    assert torch.isnan(sample.pred_depth_map.data[0, 5, 5])
    assert torch.isnan(sample.pred_normal_map.data[:, 6, 6]).all()
    assert torch.isnan(sample.pred_edge_map.data[0, 7, 7])
    assert torch.isnan(sample.pred_saliency_map.data[0, 8, 30])
    assert torch.isfinite(sample.pred_depth_map.data).sum() == H * W - 1
    cfg = dict(type='MultiTaskMetric', tasks=ALL_TASKS, num_thresholds=9)
    out = run(cfg, [sample], 1)
    expected = dict(semseg=2, depth=1, normals=1, edge=1, saliency=1)
    for task, count in expected.items():
        assert out[f'{task}.nonfinite_pixels'] == count, task
        assert len(nonfinite_warnings(log_records, task)) == 1, task
    assert 'human_parts.nonfinite_pixels' not in out
    assert out['semseg.aAcc'] == pytest.approx(1173 / 1175 * 100)


# ---------------------------------------------------------- distributed ----
NUM = 5
CFG = dict(tasks=ALL_TASKS, coherence=True, num_thresholds=9)


def nonfinite_samples():
    """Images 0 and 3 have non-finite pixels; image 0 is also the padding
    duplicate of rank 1, which must not be counted twice."""
    rng = np.random.default_rng(5)
    out = []
    for i in range(NUM):
        gts = planar_scene(i)
        preds = perfect_preds(gts)
        preds['depth'] = gts['depth'] + rng.normal(0, 0.2, (H, W))
        if i in (0, 3):
            bad = all_nonfinite_preds(gts)
            left = np.zeros((H, W), bool)
            left[:, :10 + i] = True
            for task in preds:
                mask = left[..., None] if task == 'normals' else left
                preds[task] = np.where(mask, bad[task], preds[task])
        out.append(make_sample(f'd{i}', gts, preds))
    return out


def evaluate(indices):
    metric = MultiTaskMetric(**CFG)
    metric.dataset_meta = META
    data = nonfinite_samples()
    metric.process(None, [data[i].to_dict() for i in indices])
    return metric.evaluate(NUM)



@pytest.mark.skipif(not dist.is_available(), reason='no torch.distributed')
def test_nonfinite_counts_across_two_ranks(tmp_path):
    torch.set_num_threads(1)
    single = evaluate(list(range(NUM)))
    # columns < 10 of image 0 and < 13 of image 3
    assert single['depth.nonfinite_pixels'] == H * (10 + 13)
    assert single['normals.nonfinite_pixels'] == H * (10 + 13)
    out_file = str(tmp_path / 'metrics.json')
    mp.spawn(
        eval_worker,
        args=(2, free_port(), out_file, evaluate, NUM),
        nprocs=2,
        join=True)
    with open(out_file) as f:
        distributed = json.load(f)
    assert distributed.keys() == single.keys()
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value), key
