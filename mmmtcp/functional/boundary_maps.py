"""Boundary maps of label maps, as the boundary benchmarks draw them."""
import numpy as np
from scipy import ndimage

__all__ = ['seg2bmap', 'relabel_regions']


def relabel_regions(seg: np.ndarray) -> np.ndarray:
    """Give every 4-connected region of equal labels its own label, as
    SEISM's ``relabel`` does to a ground-truth partition before drawing its
    boundaries (two regions of one class that touch only at a corner then
    differ, so :func:`seg2bmap` marks their diagonal contact).

    Args:
        seg (np.ndarray): ``H x W`` label map.

    Returns:
        np.ndarray: ``H x W`` int64 map of region ids ``1..N``.
    """
    seg = np.asarray(seg)
    out = np.zeros(seg.shape, dtype=np.int64)
    four = ndimage.generate_binary_structure(2, 1)
    offset = 0
    for value in np.unique(seg):
        regions, num = ndimage.label(seg == value, structure=four)
        inside = regions > 0
        out[inside] = regions[inside] + offset
        offset += num
    return out


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """Boundary pixels of a segmentation, as the BSDS / SEISM ``seg2bmap``
    draws them at the segmentation's own size.

    A pixel is a boundary pixel when its label differs from its east,
    south or south-east neighbour (neighbours outside the image count as
    label 0); on the last row only the east neighbour is compared, on the
    last column only the south one, and the bottom-right pixel is never a
    boundary. SEISM's ``edgesEvalImg`` applies it to every ground truth it
    evaluates against (a label map, or for NYUD-v2 the 0/1 edge map) and
    thins the result.

    Args:
        seg (np.ndarray): ``H x W`` label (or 0/1) map.

    Returns:
        np.ndarray: ``H x W`` bool boundary map.
    """
    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise ValueError(f'seg2bmap expects a 2-D map, got {seg.shape}')
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    out = (seg != east) | (seg != south) | (seg != south_east)
    out[-1, :] = seg[-1, :] != east[-1, :]
    out[:, -1] = seg[:, -1] != south[:, -1]
    out[-1, -1] = False
    return out
