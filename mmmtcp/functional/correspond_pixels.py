"""One-to-one matching of boundary pixels, the ``correspondPixels`` step of
the BSDS / SEISM boundary benchmark.

SEISM (the MATLAB code behind the boundary columns of ASTMT, MTL-PyTorch,
ATRC, InvPT and MT-CP) matches a thinned predicted boundary map to the
ground-truth boundary map with ``correspondPixels`` (``match.cc`` of the
Berkeley segmentation benchmark). It solves an assignment problem:

- a predicted pixel and a ground-truth pixel may be paired when their
  Euclidean distance is at most ``max_dist = tolerance * diagonal`` pixels
  (``u*u + v*v <= max_dist^2`` on the pixel grid), at the cost of that
  distance;
- every pixel left unpaired costs ``outlier_cost * max_dist`` with
  ``outlier_cost = 100``;
- each pixel is paired at most once (one-to-one), and the total cost is
  minimized.

Pairing one more couple saves two outlier costs (``200 * max_dist``) and
costs at most ``max_dist`` per pair of the augmenting path, so the optimum
pairs as many pixels as possible: it is a **maximum-cardinality matching**
of the bipartite "within tolerance" graph, unless an augmenting path would
re-pair more than ~100 pixels at once, which chains of boundary pixels
within a few pixels of each other do not produce. The matched counts of the
benchmark (``cntP`` = matched predicted pixels, ``cntR`` = matched
ground-truth pixels) are both that cardinality. This module computes it
exactly with the Hopcroft-Karp algorithm.

Why not call the benchmark's own solver: measured on a 480 x 640 map with
clutter (tolerance 0.011, 101 thresholds):

- ``pyedgeeval`` 0.2.8 (a Cython port of ``match.cc``) takes 0.2-1.7 s per
  threshold, about 100 s per image, 18 hours for NYUD-v2's 654 test
  images. Its solver (CSA) works on a randomly sparsified graph (six random
  outlier edges per pixel, seeded from the clock), so on dense maps it falls
  short of the optimum it approximates by a few pixels, and differently from
  run to run (5239, 5240 and 5241 matched pixels of 5241 in repeated calls
  on one map). The MATLAB code has the same randomness.
- ``scipy.sparse.csgraph.maximum_bipartite_matching`` (also Hopcroft-Karp)
  is exact but took 14 s and 189 s on two of those 101 thresholds (its
  search degrades on long alternating paths).
- The kernels here, compiled with numba, take about a millisecond per
  threshold after a once-per-image neighbourhood table of the ground truth.

``tests/test_evaluation/test_correspond_pixels.py`` compares the counts with
``pyedgeeval``'s ``correspond_pixels`` on thin, cluttered, empty and border
maps of several sizes.
"""
from typing import Tuple

import numpy as np
from numba import njit

__all__ = ['disk_offsets', 'GroundTruthNeighbours', 'correspond_counts']

OUTLIER_COST = 100.
"""``correspondPixels``' cost of an unmatched pixel, in units of
``max_dist`` (documents the matching; the cardinality does not depend on
it)."""


def disk_offsets(max_dist: float) -> Tuple[np.ndarray, np.ndarray, int]:
    """Offsets ``(dy, dx)`` with ``dy^2 + dx^2 <= max_dist^2``.

    Args:
        max_dist (float): Radius in pixels.

    Returns:
        tuple: ``dy``, ``dx`` (int64 arrays) and the window radius
        ``ceil(max_dist)``.
    """
    radius = int(np.ceil(max_dist))
    dy, dx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    keep = (dy * dy + dx * dx).astype(np.float64) <= max_dist * max_dist
    return dy[keep].astype(np.int64), dx[keep].astype(np.int64), radius


@njit(cache=True, nogil=True)
def _neighbour_table(gt, dy, dx):
    """For every pixel within reach of a gt pixel: the ids of those gt
    pixels (CSR over the pixels of the band, band ids in raster order).
    Built by scattering from the gt pixels: O(#gt * #offsets)."""
    h, w = gt.shape
    ys, xs = np.nonzero(gt)
    num_gt = ys.shape[0]
    counts = np.zeros((h, w), np.int64)
    for g in range(num_gt):
        for k in range(dy.shape[0]):
            yy = ys[g] + dy[k]
            xx = xs[g] + dx[k]
            if yy >= 0 and yy < h and xx >= 0 and xx < w:
                counts[yy, xx] += 1
    band_id = -np.ones((h, w), np.int64)
    num_band = 0
    total = 0
    for y in range(h):
        for x in range(w):
            if counts[y, x] > 0:
                band_id[y, x] = num_band
                num_band += 1
                total += counts[y, x]
    indptr = np.zeros(num_band + 1, np.int64)
    for y in range(h):
        for x in range(w):
            b = band_id[y, x]
            if b >= 0:
                indptr[b + 1] = indptr[b] + counts[y, x]
    fill = indptr[:-1].copy()
    indices = np.empty(total, np.int64)
    for g in range(num_gt):
        for k in range(dy.shape[0]):
            yy = ys[g] + dy[k]
            xx = xs[g] + dx[k]
            if yy >= 0 and yy < h and xx >= 0 and xx < w:
                b = band_id[yy, xx]
                indices[fill[b]] = g
                fill[b] += 1
    return band_id, indptr, indices, num_gt


@njit(cache=True, nogil=True)
def _max_matching(pred, band_id, band_indptr, band_indices, num_gt):
    """Hopcroft-Karp maximum matching between the predicted pixels (left)
    and the gt pixels (right) within reach; returns its cardinality."""
    h, w = pred.shape
    # left vertices: predicted pixels inside the band (the others have no
    # partner); their adjacency rows are the band table's rows
    num_left = 0
    for y in range(h):
        for x in range(w):
            if pred[y, x] and band_id[y, x] >= 0:
                num_left += 1
    if num_left == 0 or num_gt == 0:
        return 0
    rows = np.empty(num_left, np.int64)
    i = 0
    for y in range(h):
        for x in range(w):
            if pred[y, x] and band_id[y, x] >= 0:
                rows[i] = band_id[y, x]
                i += 1
    match_l = -np.ones(num_left, np.int64)
    match_r = -np.ones(num_gt, np.int64)
    matched = 0
    # greedy start
    for u in range(num_left):
        r = rows[u]
        for e in range(band_indptr[r], band_indptr[r + 1]):
            v = band_indices[e]
            if match_r[v] < 0:
                match_l[u] = v
                match_r[v] = u
                matched += 1
                break
    inf = num_left + 1
    dist = np.empty(num_left, np.int64)
    queue = np.empty(num_left, np.int64)
    stack = np.empty(num_left, np.int64)
    ptr = np.empty(num_left, np.int64)
    while True:
        # BFS layers from the free left vertices
        head = 0
        tail = 0
        for u in range(num_left):
            if match_l[u] < 0:
                dist[u] = 0
                queue[tail] = u
                tail += 1
            else:
                dist[u] = inf
        found = False
        while head < tail:
            u = queue[head]
            head += 1
            r = rows[u]
            for e in range(band_indptr[r], band_indptr[r + 1]):
                nxt = match_r[band_indices[e]]
                if nxt < 0:
                    found = True
                elif dist[nxt] == inf:
                    dist[nxt] = dist[u] + 1
                    queue[tail] = nxt
                    tail += 1
        if not found:
            break
        # DFS along the layers, one augmenting path per free vertex at most
        for u in range(num_left):
            ptr[u] = band_indptr[rows[u]]
        for root in range(num_left):
            if match_l[root] >= 0:
                continue
            top = 0
            stack[0] = root
            while top >= 0:
                u = stack[top]
                end = band_indptr[rows[u] + 1]
                advanced = False
                while ptr[u] < end:
                    v = band_indices[ptr[u]]
                    nxt = match_r[v]
                    if nxt < 0:
                        # augment along the stack: every vertex on it takes
                        # the edge its pointer stands on
                        for j in range(top, -1, -1):
                            uj = stack[j]
                            vj = band_indices[ptr[uj]]
                            match_l[uj] = vj
                            match_r[vj] = uj
                        matched += 1
                        top = -1
                        advanced = True
                        break
                    if dist[nxt] == dist[u] + 1:
                        top += 1
                        stack[top] = nxt
                        advanced = True
                        break
                    ptr[u] += 1
                if not advanced:
                    # dead end: drop u from this phase, advance its parent
                    dist[u] = inf
                    top -= 1
                    if top >= 0:
                        ptr[stack[top]] += 1
    return matched


class GroundTruthNeighbours:
    """The ground-truth pixels within ``max_dist`` of every pixel, computed
    once per image and reused for every threshold.

    Args:
        gt (np.ndarray): ``H x W`` bool ground-truth boundary pixels.
        max_dist (float): Matching distance in pixels.
    """

    def __init__(self, gt: np.ndarray, max_dist: float) -> None:
        gt = np.ascontiguousarray(gt, dtype=np.bool_)
        if gt.ndim != 2:
            raise ValueError(f'gt must be a 2-D map, got shape {gt.shape}')
        if not max_dist >= 0:
            raise ValueError(f'max_dist must be >= 0, got {max_dist}')
        dy, dx, _ = disk_offsets(max_dist)
        self.shape = gt.shape
        self.max_dist = float(max_dist)
        (self.band_id, self.indptr, self.indices,
         self.num_gt) = _neighbour_table(gt, dy, dx)

    def count(self, pred: np.ndarray) -> int:
        """Size of the one-to-one matching of ``pred`` to the ground truth.

        Args:
            pred (np.ndarray): ``H x W`` bool predicted boundary pixels.

        Returns:
            int: Matched pixels (of either map).
        """
        pred = np.ascontiguousarray(pred, dtype=np.bool_)
        if pred.shape != self.shape:
            raise ValueError(f'pred has shape {pred.shape}, the ground truth '
                             f'{self.shape}')
        return int(_max_matching(pred, self.band_id, self.indptr,
                                 self.indices, self.num_gt))


def correspond_counts(pred: np.ndarray,
                      gt: np.ndarray,
                      max_dist: float,
                      neighbours: GroundTruthNeighbours = None
                      ) -> Tuple[int, int, int, int]:
    """Match two binary boundary maps one-to-one within a distance, as
    ``correspondPixels`` does.

    Args:
        pred (np.ndarray): ``H x W`` bool predicted boundary pixels.
        gt (np.ndarray): ``H x W`` bool ground-truth boundary pixels.
        max_dist (float): Matching distance in pixels.
        neighbours (GroundTruthNeighbours, optional): Precomputed table of
            ``gt`` (for many predictions against one ground truth).

    Returns:
        tuple[int, int, int, int]: ``(cnt_p, sum_p, cnt_r, sum_r)``: matched
        and total predicted pixels, matched and total ground-truth pixels
        (``cnt_p == cnt_r``).
    """
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    sum_p = int(pred.sum())
    sum_r = int(gt.sum())
    if sum_p == 0 or sum_r == 0:
        return 0, sum_p, 0, sum_r
    if neighbours is None:
        neighbours = GroundTruthNeighbours(gt, max_dist)
    matched = neighbours.count(pred)
    return matched, sum_p, matched, sum_r
