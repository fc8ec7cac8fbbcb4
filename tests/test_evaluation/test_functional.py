"""Hand-computed checks of the metric building blocks."""
import math

import numpy as np
import pytest
from scipy import ndimage

from mmmtcp.functional import (ANGLE_BIN_WIDTH, angular_error,
                               boundary_match_counts, correspond_counts,
                               depth_stats, dilate_disk, edge_stats,
                               histogram_median, label_boundaries, label_stats,
                               normal_stats, normals_from_depth,
                               saliency_stats, sum_stats, summarize_depth,
                               summarize_edges, summarize_labels,
                               summarize_normals, summarize_saliency, thin,
                               thresholds_between)


def test_label_stats_miou_and_empty_classes():
    gt = np.array([[0, 0, 1], [1, 2, 255]])
    pred = np.array([[0, 1, 1], [1, 2, 0]])
    stats = label_stats(pred, gt, num_classes=4)
    # class 0: TP 1, FN 1 -> 1/2; class 1: TP 2, FP 1 -> 2/3; class 2: 1;
    # class 3 occurs nowhere.
    out = summarize_labels(stats, ignore_empty_classes=True)
    assert out['mIoU'] == pytest.approx((0.5 + 2 / 3 + 1) / 3 * 100)
    assert out['aAcc'] == pytest.approx(80.0)
    assert np.isnan(out['IoU'][3])
    zero = summarize_labels(stats, ignore_empty_classes=False)
    assert zero['mIoU'] == pytest.approx((0.5 + 2 / 3 + 1) / 4 * 100)
    # an all-ignored image adds nothing
    empty = label_stats(pred, np.full_like(gt, 255), num_classes=4)
    assert empty['confusion'].sum() == 0
    again = summarize_labels(sum_stats([stats, empty]))
    assert again['mIoU'] == pytest.approx(out['mIoU'])
    # nothing valid at all
    assert np.isnan(summarize_labels(empty)['mIoU'])


def test_label_stats_perfect_worst_and_bad_labels():
    gt = np.array([[0, 1], [2, 1]])
    assert summarize_labels(label_stats(gt, gt, 3))['mIoU'] == 100
    worst = summarize_labels(label_stats((gt + 1) % 3, gt, 3))
    assert worst['mIoU'] == 0 and worst['aAcc'] == 0
    with pytest.raises(ValueError, match='semseg: ground-truth label 7'):
        label_stats(gt, np.array([[7, 0], [0, 0]]), 3)
    with pytest.raises(ValueError, match='predicted label'):
        label_stats(np.array([[5, 0], [0, 0]]), gt, 3)


def test_depth_pooled_over_dataset():
    gt1 = np.array([[1., 2.], [0., 4.]])
    pred1 = np.array([[2., 2.], [5., 2.]])
    gt2 = np.array([[1.]])
    pred2 = np.array([[1.]])
    one = summarize_depth(depth_stats(pred1, gt1))
    assert one['rmse'] == pytest.approx(math.sqrt(5 / 3))
    assert one['abs_rel'] == pytest.approx((1 + 0 + 0.5) / 3)
    assert one['log_rmse'] == pytest.approx(math.log(2) * math.sqrt(2 / 3))
    both = summarize_depth(
        sum_stats([depth_stats(pred1, gt1),
                   depth_stats(pred2, gt2)]))
    # pooled: sqrt(5 / 4), not the mean of per-image RMSEs
    assert both['rmse'] == pytest.approx(math.sqrt(5 / 4))
    invalid = summarize_depth(depth_stats(pred1, np.zeros_like(gt1)))
    assert np.isnan(invalid['rmse'])
    perfect = summarize_depth(depth_stats(gt1 + (gt1 == 0), gt1))
    assert perfect['rmse'] == 0 and perfect['log_rmse'] == 0


def test_normals_angles_and_median():
    gt = np.zeros((2, 2, 3))
    gt[..., 2] = 1
    gt[1, 1] = 0  # invalid
    pred = np.zeros((2, 2, 3))
    pred[0, 0] = (0, 0, 5)  # 0 deg (normalized)
    pred[0, 1] = (1, 0, 0)  # 90 deg
    pred[1, 0] = (0, 1, 1)  # 45 deg
    pred[1, 1] = (1, 0, 0)  # ignored
    out = summarize_normals(normal_stats(pred, gt))
    assert out['mean'] == pytest.approx(45.0)
    assert out['median'] == pytest.approx(45.0, abs=ANGLE_BIN_WIDTH)
    assert out['rmse'] == pytest.approx(math.sqrt((45**2 + 90**2) / 3))
    for key in ('within_11_25', 'within_22_5', 'within_30'):
        assert out[key] == pytest.approx(100 / 3)
    # a zero prediction is 90 degrees from anything
    assert angular_error(np.zeros(3), np.array([0, 1., 0])) == \
        pytest.approx(90)
    assert angular_error(np.array([0, 0, 1.]), np.array([0, 0, -1.])) == \
        pytest.approx(180)
    assert np.isnan(summarize_normals(
        normal_stats(pred, np.zeros_like(gt)))['mean'])


def test_histogram_median_matches_exact_median():
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 60, size=2001)
    hist = np.bincount((angles / ANGLE_BIN_WIDTH).astype(int),
                       minlength=1800)
    assert histogram_median(hist, ANGLE_BIN_WIDTH) == pytest.approx(
        np.median(angles), abs=ANGLE_BIN_WIDTH)


def test_saliency_maxf_dataset_level():
    prob = np.array([[0.1, 0.3, 0.6, 0.9, 0.7]])
    gt = np.array([[0, 1, 1, 0, 255]])
    thr = thresholds_between(19)
    assert thr[0] == pytest.approx(0.05) and thr[-1] == pytest.approx(0.95)
    out = summarize_saliency(saliency_stats(prob, gt, thr))
    # best at 0.1 < t <= 0.3: P = 2/3, R = 1
    best = 1.3 * (2 / 3) / (0.3 * (2 / 3) + 1)
    assert out['maxF'] == pytest.approx(best * 100)
    # at 0.5: fg IoU 1/3, bg IoU 1/3
    assert out['mIoU'] == pytest.approx(100 / 3)
    perfect = summarize_saliency(saliency_stats(gt.clip(0, 1), gt, thr))
    assert perfect['maxF'] == pytest.approx(100) and perfect['mIoU'] == 100
    worst = summarize_saliency(saliency_stats(1 - gt.clip(0, 1), gt, thr))
    assert worst['maxF'] == 0 and worst['mIoU'] == 0


def test_thin_is_one_pixel_and_keeps_topology():
    bar = np.zeros((20, 30), bool)
    bar[5:10, 3:25] = True
    thinned = thin(bar)
    assert thinned.sum() > 0 and (thinned <= bar).all()
    assert (thinned.sum(0) <= 1).all()  # one pixel per column
    rng = np.random.default_rng(1)
    blobs = ndimage.gaussian_filter(rng.random((60, 80)), 3) > 0.5
    thinned = thin(blobs)
    eight = np.ones((3, 3))
    assert ndimage.label(thinned, eight)[1] == ndimage.label(blobs, eight)[1]
    assert not (thinned[1:, 1:] & thinned[:-1, 1:] & thinned[1:, :-1]
                & thinned[:-1, :-1]).any()
    assert (thin(thinned) == thinned).all()


def test_dilate_disk_equals_distance_transform():
    mask = np.zeros((25, 25), bool)
    mask[12, 12] = mask[3, 20] = True
    for radius in (0.5, 1.0, 2.5, 4.0):
        expected = ndimage.distance_transform_edt(~mask) <= radius
        assert (dilate_disk(mask, radius) == expected).all()


def _line(shape, col, rows=slice(5, 35)):
    out = np.zeros(shape, bool)
    out[rows, col] = True
    return out


def test_boundary_tolerance_on_shifted_edges():
    shape = (40, 40)
    diag = math.hypot(*shape)
    gt = _line(shape, 10).astype(np.int64)
    thr = thresholds_between(9)
    shifted = _line(shape, 12) * 0.8
    within = summarize_edges(edge_stats(shifted, gt, 3 / diag, thr))
    assert within['odsF'] == pytest.approx(100)
    beyond = summarize_edges(edge_stats(shifted, gt, 1 / diag, thr))
    assert beyond['odsF'] == 0
    # a partial overlap lowers F: 10 of 30 rows shifted beyond tolerance
    partial = _line(shape, 10) * 0.8
    partial[25:35, 10] = 0
    partial[25:35, 14] = 0.8
    plain = dict(nms=False, gt_boundaries=False)
    out = summarize_edges(edge_stats(partial, gt, 1.5 / diag, thr, **plain))
    # one-to-one: 20 of 30 predicted pixels match 20 of 30 gt pixels
    assert out['odsF'] == pytest.approx(100 * 20 / 30)
    # any partner: the gt pixel at row 25 is also "recalled" by the
    # prediction at row 24, which already matched the gt pixel at row 24
    dilate = summarize_edges(edge_stats(partial, gt, 1.5 / diag, thr,
                                        matcher='dilate', **plain))
    precision, recall = 20 / 30, 21 / 30
    assert dilate['odsF'] == pytest.approx(
        100 * 2 * precision * recall / (precision + recall))
    counts = boundary_match_counts(partial > 0, gt.astype(bool), 1.5)
    assert counts == (20, 30, 21, 30)
    assert correspond_counts(partial > 0, gt.astype(bool), 1.5) == (
        20, 30, 20, 30)


def test_thick_prediction_is_thinned_and_ignore_pixels_dropped():
    shape = (40, 40)
    diag = math.hypot(*shape)
    gt = _line(shape, 20).astype(np.int64)
    band = np.zeros(shape)
    band[5:35, 18:23] = 0.9  # 5 px wide, centred on the gt line
    thr = thresholds_between(9)
    stats = edge_stats(band, gt, 1 / diag, thr)
    cnt_p, sum_p, cnt_r, sum_r = stats['counts'][0]
    # thinned to the centre line: every predicted pixel matches; thinning
    # shortens the ends by at most a pixel each
    assert cnt_p == sum_p and sum_p >= 26 and sum_r == 30
    assert cnt_r >= 26
    # unthinned, the two outer columns would be misses: F = 2*0.6/1.6 = 75
    assert summarize_edges(stats)['odsF'] > 90
    # a false edge inside the ignored region does not count
    gt_ignore = gt.copy()
    gt_ignore[:, 30:] = 255
    noisy = band.copy()
    noisy[5:35, 33] = 0.9
    noisy_stats = edge_stats(noisy, gt_ignore, 1 / diag, thr)
    assert (noisy_stats['counts'] == stats['counts']).all()


def test_ods_and_ois():
    shape = (40, 40)
    diag = math.hypot(*shape)
    gt = _line(shape, 10).astype(np.int64)
    thr = thresholds_between(9)  # 0.1 .. 0.9
    image_a = _line(shape, 10) * 0.3
    image_b = _line(shape, 10) * 0.9 + _line(shape, 30) * 0.5
    stats = sum_stats([edge_stats(image_a, gt, 1.5 / diag, thr),
                       edge_stats(image_b, gt, 1.5 / diag, thr)])
    out = summarize_edges(stats)
    # t <= 0.3: P = 60/90, R = 1 -> F = 0.8; each image alone can reach 1
    assert out['odsF'] == pytest.approx(80)
    assert out['oisF'] == pytest.approx(100)
    empty = summarize_edges(edge_stats(np.zeros(shape), gt, 1.5 / diag, thr))
    assert empty['odsF'] == 0 and empty['oisF'] == 0


def test_normals_from_planar_depth():
    h, w = 30, 40
    fx, fy, cx, cy = 32.4, 32.5, 20.3, 15.9
    n_cv = np.array([0.2, -0.3, -1.0])
    n_cv /= np.linalg.norm(n_cv)
    u = (np.arange(w) - cx) / fx
    v = (np.arange(h) - cy) / fy
    denom = n_cv[0] * u[None] + n_cv[1] * v[:, None] + n_cv[2]
    depth = -2.0 / denom
    assert (depth > 0).all()
    normals, defined = normals_from_depth(depth, fx, fy, cx, cy)
    expected = n_cv * np.array([1, -1, -1])  # right, up, toward camera
    assert defined[1:-1, 1:-1].all() and not defined[0].any()
    err = angular_error(normals[defined], expected)
    assert err.max() < 1e-6
    # another axis convention
    normals, _ = normals_from_depth(depth, fx, fy, cx, cy,
                                    ('right', 'down', 'away_from_camera'))
    assert angular_error(normals[defined], n_cv).max() < 1e-6
    # invalid depth removes the pixel and its neighbours
    depth[10, 10] = 0
    _, defined = normals_from_depth(depth, fx, fy, cx, cy)
    assert not defined[10, 9:12].any() and not defined[9:12, 10].any()
    assert defined[9, 9]


def test_label_boundaries():
    labels = np.zeros((6, 8), int)
    labels[:, 4:] = 3
    b = label_boundaries(labels)
    assert b[:, 3].all() and b[:, 4].all() and b.sum() == 12
    thinned = thin(b)
    # one pixel per row; pixels outside the image count as background, so
    # thinning may shorten an end by one pixel (as bwmorph does)
    assert (thinned.sum(1) <= 1).all() and thinned.sum() >= 5
