"""The one thinning (bwmorph / skimage.morphology.thin) of mmmtcp."""
import cv2
import numpy as np
import pytest

from mmmtcp.functional.thinning import thin


def test_two_by_two_square_keeps_one_pixel():
    sq = np.zeros((6, 6), bool)
    sq[2:4, 2:4] = True
    out = thin(sq)
    # bwmorph / skimage keep the bottom-left pixel: the first sub-iteration
    # (condition G3) deletes the other three at once, and the lone pixel
    # left is never deleted (Zhang-Suen deletes all four)
    assert out.sum() == 1 and out[3, 2]


def test_three_pixel_bar_becomes_its_centre_line():
    bar = np.zeros((7, 12), bool)
    bar[2:5, 2:10] = True  # 3 rows x 8 columns
    out = thin(bar)
    expected = np.zeros_like(bar)
    expected[3, 3:9] = True  # the middle row, one pixel shorter at each end
    np.testing.assert_array_equal(out, expected)
    # a one-pixel line, a single pixel and an empty map are kept as they are
    np.testing.assert_array_equal(thin(expected), expected)
    dot = np.zeros((3, 3), bool)
    dot[1, 1] = True
    np.testing.assert_array_equal(thin(dot), dot)
    assert not thin(np.zeros((4, 5), bool)).any()


def test_same_as_skimage_on_label_boundaries():
    morphology = pytest.importorskip('skimage.morphology')
    rng = np.random.default_rng(0)
    for i in range(40):
        lab = rng.integers(0, 4, (10 + i % 5, 12 + i % 3)).astype(np.uint8)
        lab = cv2.resize(lab, (48, 40), interpolation=cv2.INTER_NEAREST)
        edges = np.abs(cv2.Laplacian(lab.astype(np.float64),
                                     cv2.CV_64F)) > 0
        np.testing.assert_array_equal(thin(edges), morphology.thin(edges))
        blobs = rng.random((25, 30)) > 0.5
        np.testing.assert_array_equal(thin(blobs), morphology.thin(blobs))
