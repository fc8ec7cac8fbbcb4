"""The one geometry layer: pixel-centre convention of the intrinsics."""
import cv2
import mmcv
import numpy as np
import pytest

from mmmtcp.functional.geometry import (NYUD_INTRINSICS, backproject,
                                   crop_intrinsics, flip_intrinsics,
                                   normals_from_depth, restore_intrinsics,
                                   scale_intrinsics, warp_intrinsics)

K = dict(fx=50.0, fy=52.0, cx=30.3, cy=20.7, width=64, height=48)


def test_scale_convention_hand_computed():
    # 640 -> 320: s = 0.5, cx' = (cx + 0.5) * s - 0.5
    k = scale_intrinsics(NYUD_INTRINSICS, 320, 240)
    assert k['cx'] == pytest.approx((325.582 + 0.5) * 0.5 - 0.5)
    assert k['cx'] == pytest.approx(162.541)
    assert k['cy'] == pytest.approx(126.618)
    assert k['fx'] == pytest.approx(259.429)
    assert k['fy'] == pytest.approx(259.735)
    assert (k['width'], k['height']) == (320, 240)
    # 64 -> 160 (s = 2.5): (30.3 + 0.5) * 2.5 - 0.5 = 76.5
    k = scale_intrinsics(K, 160, 96)
    assert (k['fx'], k['fy'], k['cx'], k['cy']) == pytest.approx(
        (125.0, 104.0, 76.5, 41.9))
    # the input is not modified, extra keys are kept
    k = scale_intrinsics(dict(K, note='x'), 32, 24)
    assert k['note'] == 'x' and K['cx'] == 30.3


@pytest.mark.parametrize('size', [(160, 96), (32, 24), (100, 30)])
@pytest.mark.parametrize('backend', ['cv2', 'mmcv'])
def test_convention_is_the_one_of_the_image_resize(size, backend):
    """A point at column ``cx`` of the image is found at the scaled ``cx``
    of the resized image (bilinear resize of a ramp ``value = column``)."""
    w2, h2 = size
    ramp = np.tile(np.arange(K['width'], dtype=np.float32),
                   (K['height'], 1))
    if backend == 'cv2':
        out = cv2.resize(ramp, (w2, h2), interpolation=cv2.INTER_LINEAR)
    else:
        out = mmcv.imresize(ramp, (w2, h2), interpolation='bilinear')
    k = scale_intrinsics(K, w2, h2)
    row = out[h2 // 2].astype(np.float64)
    found = np.interp(k['cx'], np.arange(w2), row)
    assert found == pytest.approx(K['cx'], abs=1e-4)
    # scaling the principal point without the half-pixel shift is off
    assert abs(np.interp(K['cx'] * w2 / K['width'], np.arange(w2), row) -
               K['cx']) > 0.1


def test_round_trip_and_commutation():
    k = scale_intrinsics(scale_intrinsics(K, 100, 70), 64, 48)
    for key in ('fx', 'fy', 'cx', 'cy'):
        assert k[key] == pytest.approx(K[key], abs=1e-9)
    # resize and flip commute; flipping twice is the identity
    a = flip_intrinsics(scale_intrinsics(K, 100, 70), 'diagonal')
    b = scale_intrinsics(flip_intrinsics(K, 'diagonal'), 100, 70)
    assert a == pytest.approx(b)
    assert flip_intrinsics(flip_intrinsics(K, 'horizontal'),
                           'horizontal') == pytest.approx(K)


def test_flip_crop_and_warp():
    f = flip_intrinsics(K, 'horizontal')
    assert (f['cx'], f['cy'], f['fx']) == pytest.approx((63 - 30.3, 20.7,
                                                         50.))
    f = flip_intrinsics(K, 'vertical')
    assert (f['cx'], f['cy'], f['fy']) == pytest.approx((30.3, 47 - 20.7,
                                                         52.))
    with pytest.raises(ValueError, match='flip direction'):
        flip_intrinsics(K, 'sideways')
    c = crop_intrinsics(K, 5, 7, 20, 10)
    assert (c['cx'], c['cy'], c['width'], c['height']) == pytest.approx(
        (25.3, 13.7, 20, 10))
    # the cv2 zoom / rotation about the centre moves the principal point
    # like any other point of the image
    m = cv2.getRotationMatrix2D(((64 - 1) / 2, (48 - 1) / 2), 90., 2.)
    w = warp_intrinsics(dict(K, fy=50.), m, 64, 48)
    x, y = m @ np.array([30.3, 20.7, 1.])
    assert (w['cx'], w['cy'], w['fx'], w['fy']) == pytest.approx(
        (x, y, 100., 100.))
    with pytest.raises(KeyError, match="lacks \\['width'"):
        scale_intrinsics(dict(fx=1., fy=1., cx=0., cy=0., height=2), 4, 4)


def test_restore_intrinsics_undoes_flip_and_resize():
    # a test pipeline resized (to 100x70) and flipped the image
    seen = flip_intrinsics(scale_intrinsics(K, 100, 70), 'horizontal')
    k = restore_intrinsics(seen, (48, 64), 'horizontal')
    for key in ('fx', 'fy', 'cx', 'cy'):
        assert k[key] == pytest.approx(K[key], abs=1e-9)
    assert restore_intrinsics(K, (24, 32)) == pytest.approx(
        scale_intrinsics(K, 32, 24))


def test_backproject_and_normals_share_the_rays():
    depth = np.full((5, 6), 2.0)
    p = backproject(depth, 10., 10., 2., 1.)
    # right, up, toward camera: z = -depth, x grows with the column,
    # y decreases with the row
    assert p[1, 2] == pytest.approx((0., 0., -2.))
    assert p[1, 3, 0] == pytest.approx(0.2) and p[2, 2, 1] == pytest.approx(
        -0.2)
    n, defined = normals_from_depth(depth, 10., 10., 2., 1.)
    assert defined[1:-1, 1:-1].all()
    np.testing.assert_allclose(n[defined], [[0., 0., 1.]] * defined.sum(),
                               atol=1e-12)
