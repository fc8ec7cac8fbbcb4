"""Thinning of binary maps to one-pixel-wide curves, as MATLAB's
``bwmorph(bw, 'thin', Inf)`` (and ``skimage.morphology.thin``) does.

The one thinning of mmmtcp: the boundary protocol thins every thresholded
prediction with it (:mod:`mmmtcp.evaluation.functional.boundary`, as the
SEISM code does), and the PASCAL-Context boundary ground truth is thinned
with it (:func:`mmmtcp.datasets.formats.read_pascal_edge_mat`, as the
protocol's loaders do with ``skimage.morphology.thin``).
"""
from typing import Tuple

import numpy as np

__all__ = ['thin']

# Neighbour offsets (row, col) in the order of MATLAB's bwmorph 'thin'
# documentation: x1 = east, then counter-clockwise (x2 = north-east, ...).
_NEIGHBOURS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0),
               (1, 1))


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


def thin(mask: np.ndarray) -> np.ndarray:
    """Thin a binary map to one-pixel-wide curves (``bwmorph(.., 'thin',
    Inf)``).

    Pixels outside the image count as background. The result equals the
    parallel two-sub-iteration algorithm applied until nothing changes; only
    foreground pixels with a 4-connected background neighbour (the only ones
    the conditions can delete) are examined in each pass, so the cost grows
    with the number of removed pixels rather than with the image size times
    the number of passes.

    Args:
        mask (np.ndarray): ``H x W`` binary map.

    Returns:
        np.ndarray: ``H x W`` bool thinned map.
    """
    img = np.pad(np.asarray(mask, dtype=bool), 1)
    width = img.shape[1]
    flat = img.reshape(-1)
    offsets = [dr * width + dc for dr, dc in _NEIGHBOURS]
    fg = np.flatnonzero(flat)
    inner = (flat[fg + 1] & flat[fg - 1] & flat[fg + width]
             & flat[fg - width])
    border = fg[~inner]
    while True:
        changed = False
        for lut in (_LUT1, _LUT2):
            if border.size == 0:
                break
            code = np.zeros(border.shape, dtype=np.uint8)
            for k, off in enumerate(offsets):
                code |= flat[border + off].astype(np.uint8) << k
            delete = lut[code]
            if not delete.any():
                continue
            removed = border[delete]
            flat[removed] = False
            changed = True
            exposed = np.concatenate(
                (removed + 1, removed - 1, removed + width, removed - width))
            exposed = exposed[flat[exposed]]
            border = np.union1d(border[~delete], exposed)
        if not changed:
            break
    return img[1:-1, 1:-1].copy()
