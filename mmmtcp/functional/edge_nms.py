"""Non-maximum suppression of boundary maps as the SEISM protocol reads them.

The boundary evaluation behind the published NYUD-v2 / PASCAL-Context
tables (the SEISM wrapper of InvPT / TaskPrompter, with ATRC's tolerances)
reads every saved prediction with ``read_one_cont_png``:

1. ``E = im2single(imread(png))``: the uint8 map divided by 255;
2. an orientation from the second derivatives of the map smoothed by a
   triangle filter of radius 4 (``convTri``, ``gradient2`` of Piotr
   Dollar's toolbox): ``O = mod(atan(Oyy * sign(-Oxy) / (Oxx + 1e-5)), pi)``;
3. ``edgesNmsMex(E, O, 1, 5, 1.01)``: a pixel is zeroed when 1.01 times its
   value is below the bilinearly interpolated value one pixel away on
   either side along ``(cos O, sin O)``; then values within 5 pixels of the
   image border are scaled down linearly (``x / 5`` at distance ``x``);
4. the boundary candidates at threshold ``t`` are ``E_nms > t``.

This module reproduces steps 1-3 in single precision, as the MATLAB code
computes them. The smoothing uses OpenCV's separable filter with
symmetric (``BORDER_REFLECT``) padding, the padding ``convTri`` uses; the
suppression loop is compiled with numba.
"""
import cv2
import numpy as np
from numba import njit

__all__ = ['conv_tri', 'edge_orientation', 'edge_nms', 'quantize_uint8']


def quantize_uint8(prob: np.ndarray) -> np.ndarray:
    """A probability map as the protocol reads it back from its PNG:
    ``round(clip(p, 0, 1) * 255) / 255`` in single precision (the PNGs
    mmmtcp writes with ``output_dir`` hold ``round(p * 255)``)."""
    prob = np.clip(np.asarray(prob, dtype=np.float64), 0., 1.)
    return (np.round(prob * 255.).astype(np.float32) / np.float32(255.))


def conv_tri(img: np.ndarray, radius: int) -> np.ndarray:
    """Separable triangle filter ``[1 .. r+1 .. 1] / (r+1)^2`` with
    symmetric padding (Piotr Dollar's ``convTri`` for an integer radius
    ``r >= 2``).

    Args:
        img (np.ndarray): ``H x W`` float32 map.
        radius (int): Filter radius (>= 2).

    Returns:
        np.ndarray: ``H x W`` float32 smoothed map.
    """
    if radius < 2:
        raise ValueError(f'conv_tri supports radius >= 2, got {radius}')
    kernel = np.concatenate([np.arange(1, radius + 2),
                             np.arange(radius, 0, -1)]).astype(np.float32)
    kernel /= np.float32((radius + 1)**2)
    return cv2.sepFilter2D(np.asarray(img, dtype=np.float32), cv2.CV_32F,
                           kernel, kernel, borderType=cv2.BORDER_REFLECT)


def edge_orientation(edge: np.ndarray, radius: int = 4) -> np.ndarray:
    """Boundary normal orientation in ``[0, pi)`` from the second
    derivatives of the smoothed map (``read_one_cont_png``).

    Args:
        edge (np.ndarray): ``H x W`` float32 boundary map.
        radius (int): Radius of the triangle smoothing. Defaults to 4.

    Returns:
        np.ndarray: ``H x W`` float32 orientation.
    """
    smooth = conv_tri(edge, radius)
    # gradient2 == MATLAB gradient: central differences, one-sided at the
    # border; numpy returns (d/drow, d/dcol) = (Gy, Gx)
    oy, ox = np.gradient(smooth)
    oxx = np.gradient(ox, axis=1)
    oxy = np.gradient(oy, axis=1)
    oyy = np.gradient(oy, axis=0)
    ratio = oyy * np.sign(-oxy) / (oxx + np.float32(1e-5))
    return np.mod(np.arctan(ratio), np.float32(np.pi)).astype(np.float32)


@njit(cache=True, nogil=True)
def _interp(img, x, y):
    h, w = img.shape
    lim_x = np.float32(w - 1.001)
    lim_y = np.float32(h - 1.001)
    x = np.float32(0.) if x < 0 else (lim_x if x > lim_x else x)
    y = np.float32(0.) if y < 0 else (lim_y if y > lim_y else y)
    x0 = int(x)
    y0 = int(y)
    dx0 = np.float32(x - np.float32(x0))
    dy0 = np.float32(y - np.float32(y0))
    dx1 = np.float32(1.) - dx0
    dy1 = np.float32(1.) - dy0
    return np.float32(img[y0, x0] * dx1 * dy1 + img[y0, x0 + 1] * dx0 * dy1
                      + img[y0 + 1, x0] * dx1 * dy0
                      + img[y0 + 1, x0 + 1] * dx0 * dy0)


@njit(cache=True, nogil=True)
def _nms(edge, ori, radius, border, mult):
    h, w = edge.shape
    out = edge.copy()
    for y in range(h):
        for x in range(w):
            e = edge[y, x]
            if e == 0:
                continue
            e = np.float32(e * mult)
            co = np.float32(np.cos(ori[y, x]))
            si = np.float32(np.sin(ori[y, x]))
            for d in range(-radius, radius + 1):
                if d == 0:
                    continue
                e0 = _interp(edge, np.float32(x + d * co),
                             np.float32(y + d * si))
                if e < e0:
                    out[y, x] = 0
                    break
    s = min(border, w // 2, h // 2)
    for x in range(s):
        f = np.float32(np.float32(x) / np.float32(s))
        for y in range(h):
            out[y, x] *= f
            out[y, w - 1 - x] *= f
    for y in range(s):
        f = np.float32(np.float32(y) / np.float32(s))
        for x in range(w):
            out[y, x] *= f
            out[h - 1 - y, x] *= f
    return out


def edge_nms(edge: np.ndarray,
             radius: int = 1,
             border: int = 5,
             mult: float = 1.01,
             smooth_radius: int = 4) -> np.ndarray:
    """Non-maximum suppression of a boundary map along its normal
    (``edgesNmsMex(E, O, r, s, m)`` with the orientation of
    :func:`edge_orientation`).

    Args:
        edge (np.ndarray): ``H x W`` boundary map in ``[0, 1]``.
        radius (int): Suppression distance along the normal, in pixels.
        border (int): Width of the linearly attenuated image border.
        mult (float): A pixel survives when ``mult`` times its value is not
            below its interpolated neighbours.
        smooth_radius (int): Triangle radius of the orientation estimate.

    Returns:
        np.ndarray: ``H x W`` float32 suppressed map.
    """
    edge = np.ascontiguousarray(edge, dtype=np.float32)
    if edge.ndim != 2:
        raise ValueError(f'edge_nms expects a 2-D map, got {edge.shape}')
    ori = edge_orientation(edge, smooth_radius)
    return _nms(edge, ori, int(radius), int(border), np.float32(mult))
