"""Thinning of binary maps to one-pixel-wide curves, as MATLAB's
``bwmorph(bw, 'thin', Inf)`` (and ``skimage.morphology.thin``) does.

The one thinning of mmmtcp: the boundary protocol thins every thresholded
prediction with it (:mod:`mmmtcp.functional.boundary`, as the
SEISM code does), and the PASCAL-Context boundary ground truth is thinned
with it (:func:`mmmtcp.functional.formats.read_pascal_edge_mat`, as the
protocol's loaders do with ``skimage.morphology.thin``).

It is compiled with numba rather than taken from scikit-image: the result is
the same (tests compare the two), but the boundary protocol thins about a
hundred maps per image and ``skimage.morphology.thin`` re-scans the whole
image in every pass (measured at 480 x 640: 0.03-0.24 s per map for
scikit-image, under 1 ms per map here after non-maximum suppression).
"""
from typing import Tuple

import numpy as np
from numba import njit

__all__ = ['thin']

# Bit k of a neighbourhood code is x_{k+1} in the order of MATLAB's bwmorph
# 'thin' documentation: x1 = east, then counter-clockwise (x2 = north-east,
# x3 = north, ..., x8 = south-east).


def _thin_luts() -> Tuple[np.ndarray, np.ndarray]:
    """Deletion look-up tables of the two thinning sub-iterations.

    The conditions are those of Lam, Lee and Suen (1992), the algorithm
    MATLAB's ``bwmorph(bw, 'thin')`` uses: for the 8-neighbourhood code of a
    foreground pixel, G1 (crossing number X_H == 1), G2 (2 <= min(n1, n2) <=
    3) and G3 (first sub-iteration) or G3' (second) must hold for the pixel
    to be deleted.
    """
    lut1 = np.zeros(256, dtype=bool)
    lut2 = np.zeros(256, dtype=bool)
    for code in range(256):
        x = [(code >> k) & 1 for k in range(8)]  # x[0] is x1, ... x[7] is x8

        def xi(i: int) -> int:  # 1-based with x9 = x1
            return x[(i - 1) % 8]

        x_h = sum(1 for i in range(1, 5)
                  if xi(2 * i - 1) == 0 and (xi(2 * i) or xi(2 * i + 1)))
        n1 = sum(1 for k in range(1, 5) if xi(2 * k - 1) or xi(2 * k))
        n2 = sum(1 for k in range(1, 5) if xi(2 * k) or xi(2 * k + 1))
        g12 = x_h == 1 and 2 <= min(n1, n2) <= 3
        g3 = ((xi(2) or xi(3) or not xi(8)) and xi(1)) == 0
        g3p = ((xi(6) or xi(7) or not xi(4)) and xi(5)) == 0
        lut1[code] = g12 and g3
        lut2[code] = g12 and g3p
    return lut1, lut2


_LUT1, _LUT2 = _thin_luts()


@njit(cache=True, nogil=True)
def _thin_inplace(img, lut1, lut2):
    """Parallel two-sub-iteration thinning of a zero-padded map, in place.

    Each sub-iteration decides on every foreground pixel from the map as it
    was before the sub-iteration, then deletes; only pixels still in the
    foreground are examined again.
    """
    h, w = img.shape
    count = 0
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            if img[y, x]:
                count += 1
    ys = np.empty(count, np.int64)
    xs = np.empty(count, np.int64)
    i = 0
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            if img[y, x]:
                ys[i] = y
                xs[i] = x
                i += 1
    delete = np.zeros(count, np.bool_)
    n = count
    while True:
        changed = False
        for sub in range(2):
            lut = lut1 if sub == 0 else lut2
            any_delete = False
            for i in range(n):
                y = ys[i]
                x = xs[i]
                # x1 = east, then counter-clockwise
                code = (img[y, x + 1] * 1 + img[y - 1, x + 1] * 2
                        + img[y - 1, x] * 4 + img[y - 1, x - 1] * 8
                        + img[y, x - 1] * 16 + img[y + 1, x - 1] * 32
                        + img[y + 1, x] * 64 + img[y + 1, x + 1] * 128)
                delete[i] = lut[code]
                if delete[i]:
                    any_delete = True
            if not any_delete:
                continue
            changed = True
            k = 0
            for i in range(n):
                if delete[i]:
                    img[ys[i], xs[i]] = False
                else:
                    ys[k] = ys[i]
                    xs[k] = xs[i]
                    k += 1
            n = k
        if not changed:
            break


def thin(mask: np.ndarray) -> np.ndarray:
    """Thin a binary map to one-pixel-wide curves (``bwmorph(.., 'thin',
    Inf)``).

    Pixels outside the image count as background. The result equals the
    parallel two-sub-iteration algorithm applied until nothing changes
    (compiled with numba: the boundary protocol thins about a hundred maps
    per image).

    Args:
        mask (np.ndarray): ``H x W`` binary map.

    Returns:
        np.ndarray: ``H x W`` bool thinned map.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'thin expects a 2-D map, got shape {mask.shape}')
    img = np.pad(mask.astype(bool), 1)
    _thin_inplace(img, _LUT1, _LUT2)
    return img[1:-1, 1:-1].copy()
