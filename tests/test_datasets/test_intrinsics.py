"""Per-sample camera intrinsics through the transforms.

The image encodes, at every pixel, the ray ``((u - cx) / fx, (v - cy) /
fy)`` of the camera it was taken with. Both are linear in the pixel
coordinates, so a bilinear resize / warp reproduces them exactly away from
the border: after any chain of transforms, the pixels must still hold the
rays of the intrinsics the transforms report.
"""
import copy

import numpy as np
import pytest
from mmseg.registry import DATASETS, TRANSFORMS

from conftest import H, W
from mmmtcp.functional.geometry import (NYUD_INTRINSICS, crop_intrinsics,
                                   flip_intrinsics, restore_intrinsics,
                                   scale_intrinsics)

K = dict(fx=50.0, fy=52.0, cx=30.3, cy=20.7, width=64, height=48)


def ray_image(k: dict) -> np.ndarray:
    u = (np.arange(k['width']) - k['cx']) / k['fx']
    v = (np.arange(k['height']) - k['cy']) / k['fy']
    img = np.zeros((k['height'], k['width'], 3), np.float32)
    img[..., 0] = u[None, :]
    img[..., 1] = v[:, None]
    return img


def results_of(k: dict) -> dict:
    img = ray_image(k)
    return dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                seg_fields=[], camera_intrinsics=dict(k))


def test_resize_flip_crop_give_the_predicted_intrinsics():
    resize = TRANSFORMS.build(dict(type='MultiTaskResize', scale=(96, 72),
                                   keep_ratio=False))
    flip = TRANSFORMS.build(dict(type='MultiTaskRandomFlip', prob=1.,
                                 direction='horizontal'))
    crop = TRANSFORMS.build(dict(type='MultiTaskRandomCrop',
                                 crop_size=(40, 50)))
    r = flip(resize(results_of(K)))
    flipped = r['img'].copy()
    np.random.seed(3)
    out = crop(r)
    found = [(y, x) for y in range(72 - 39) for x in range(96 - 49)
             if np.array_equal(flipped[y:y + 40, x:x + 50], out['img'])]
    y0, x0 = found[0]
    k = out['camera_intrinsics']
    # by hand: s = 1.5, cx = (30.3 + 0.5) * 1.5 - 0.5 = 45.7, flipped in 96
    # columns: 95 - 45.7 = 49.3, then the crop origin
    hand = dict(fx=75., fy=78., cx=49.3 - x0, cy=31.3 - y0, width=50,
                height=40)
    assert k == pytest.approx(hand)
    # the unified functions predict the same
    assert k == pytest.approx(crop_intrinsics(
        flip_intrinsics(scale_intrinsics(K, 96, 72), 'horizontal'), x0, y0,
        50, 40))
    # and the pixels hold the rays of those intrinsics (the flip mirrors
    # the scene: x of the ray is negated), away from the resized border
    img = out['img']
    u = np.arange(50)
    v = np.arange(40)
    u_resized = 95 - (x0 + u)
    v_resized = y0 + v
    ok_u = (u_resized >= 1) & (u_resized <= 94)
    ok_v = (v_resized >= 1) & (v_resized <= 70)
    ray_x = -(u - k['cx']) / k['fx']
    ray_y = (v - k['cy']) / k['fy']
    np.testing.assert_allclose(img[0, ok_u, 0], ray_x[ok_u], atol=2e-5)
    np.testing.assert_allclose(img[ok_v, 0, 1], ray_y[ok_v], atol=2e-5)


@pytest.mark.parametrize('keep_ratio,scale', [(True, (40, 30)),
                                               (False, (200, 100))])
def test_resize_rays(keep_ratio, scale):
    np.random.seed(0)
    out = TRANSFORMS.build(dict(type='MultiTaskRandomResize', scale=scale,
                                ratio_range=(0.8, 1.2),
                                keep_ratio=keep_ratio))(results_of(K))
    h, w = out['img'].shape[:2]
    k = out['camera_intrinsics']
    assert (k['width'], k['height']) == (w, h)
    assert k == pytest.approx(scale_intrinsics(K, w, h))
    expected = ray_image(k)
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(out['img'][inner][..., :2],
                               expected[inner][..., :2], atol=2e-5)


def test_scale_rotate_keeps_the_optical_axis():
    k0 = dict(K, fy=50.0)
    t = TRANSFORMS.build(dict(type='MultiTaskRandomScaleRotate',
                              scales=[1.3], rotations=[25.0]))
    out = t(results_of(k0))
    k = out['camera_intrinsics']
    assert (k['fx'], k['fy']) == pytest.approx((65., 65.))
    # the ray through the new principal point is still the optical axis
    img = out['img']
    x, y = k['cx'], k['cy']
    x0, y0 = int(x), int(y)
    a, b = x - x0, y - y0
    patch = img[y0:y0 + 2, x0:x0 + 2, :2].astype(np.float64)
    ray = ((1 - b) * ((1 - a) * patch[0, 0] + a * patch[0, 1]) +
           b * ((1 - a) * patch[1, 0] + a * patch[1, 1]))
    # cv2.warpAffine quantizes the source position to 1/32 pixel; the
    # principal point is right within that (with pixel corners at integers,
    # zooming about w / 2, it would be 0.5 * (1.3 - 1) pixel off, 3e-3 here)
    np.testing.assert_allclose(ray, 0, atol=1e-3)
    # pure zoom: every inner pixel holds the ray of the new intrinsics
    out = TRANSFORMS.build(dict(type='MultiTaskRandomScaleRotate',
                                scales=[1.3], rotations=[0.]))(
                                    results_of(K))
    expected = ray_image(out['camera_intrinsics'])
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(out['img'][inner][..., :2],
                               expected[inner][..., :2], atol=1e-3)


@pytest.mark.parametrize('flip', [False, True])
def test_intrinsics_at_evaluation_time(nyud_root, flip):
    """A test pipeline that resizes (and flips) before loading the maps:
    the packed intrinsics describe the original image, the one the maps and
    the restored predictions share."""
    root, _ = nyud_root
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='MultiTaskResize', scale=(2 * W + 6, 2 * H + 2),
                     keep_ratio=False)]
    if flip:
        pipeline.append(dict(type='MultiTaskRandomFlip', prob=1.))
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                             pipeline=copy.deepcopy(pipeline) + [
                                 dict(type='LoadMultiTaskAnnotations'),
                                 dict(type='PackMultiTaskInputs')
                             ], test_mode=True))
    meta = ds[0]['data_samples'].metainfo
    assert meta['ori_shape'] == (H, W)
    original = scale_intrinsics(NYUD_INTRINSICS, W, H)
    k = meta['camera_intrinsics']
    expected = flip_intrinsics(original, 'horizontal') if flip else original
    for key in ('fx', 'fy', 'cx', 'cy', 'width', 'height'):
        assert k[key] == pytest.approx(expected[key], abs=1e-9), key
    # what the metric reads, with or without the annotations loaded
    direction = meta['flip_direction'] if meta['flip'] else None
    assert restore_intrinsics(k, (H, W), direction) == pytest.approx(original)
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                             pipeline=pipeline + [
                                 dict(type='PackMultiTaskInputs')
                             ], test_mode=True))
    meta = ds[0]['data_samples'].metainfo
    k = meta['camera_intrinsics']
    assert (k['width'], k['height']) == (2 * W + 6, 2 * H + 2)
    direction = meta['flip_direction'] if meta['flip'] else None
    assert restore_intrinsics(k, (H, W), direction) == pytest.approx(original)
