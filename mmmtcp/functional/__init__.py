"""The ground floor of mmmtcp: pure functions on arrays and files.

Readers and writers of the dataset formats (:mod:`.formats`,
:mod:`.image_check`), camera geometry (:mod:`.geometry`), masked resampling
(:mod:`.resampling`), boundary maps and thinning (:mod:`.boundary_maps`,
:mod:`.thinning`) and the dense, boundary and coherence measures
(:mod:`.dense`, :mod:`.boundary`, :mod:`.correspond_pixels`,
:mod:`.edge_nms`, :mod:`.coherence`).

Nothing here imports another part of mmmtcp: the task kinds
(:mod:`mmmtcp.tasks`) are built on these functions, and the datasets,
models, evaluation and visualization on the kinds.
"""
from .boundary import (MATCHERS, SEISM_THRESHOLDS, boundary_match_counts,
                       boundary_pr_counts, dilate_disk, f_measure,
                       label_boundaries, match_counts, pr_from_counts, thin,
                       tolerance_in_pixels)
from .boundary_maps import seg2bmap
from .coherence import edge_seg_stats, normal_depth_stats
from .correspond_pixels import GroundTruthNeighbours, correspond_counts
from .dense import (ANGLE_BIN_WIDTH, ANGLE_THRESHOLDS, NONFINITE_LABEL,
                    WORST_ANGLE, depth_stats, edge_stats, histogram_median,
                    label_stats, nonfinite_labels, normal_stats,
                    saliency_stats, sum_stats, summarize_depth,
                    summarize_edges, summarize_labels, summarize_normals,
                    summarize_saliency, thresholds_between)
from .edge_nms import edge_nms, edge_orientation, quantize_uint8
from .geometry import angular_error, axes_matrix, normals_from_depth
from .resampling import (masked_resample, masked_resize, masked_warp,
                         unit_normals)

__all__ = [
    'MATCHERS', 'SEISM_THRESHOLDS', 'GroundTruthNeighbours',
    'correspond_counts', 'edge_nms', 'edge_orientation', 'quantize_uint8',
    'match_counts', 'seg2bmap', 'boundary_match_counts', 'boundary_pr_counts',
    'dilate_disk', 'f_measure', 'label_boundaries', 'pr_from_counts', 'thin',
    'tolerance_in_pixels', 'ANGLE_BIN_WIDTH', 'ANGLE_THRESHOLDS',
    'NONFINITE_LABEL', 'WORST_ANGLE', 'depth_stats', 'edge_stats',
    'histogram_median', 'label_stats', 'nonfinite_labels', 'normal_stats',
    'saliency_stats', 'sum_stats', 'summarize_depth', 'summarize_edges',
    'summarize_labels', 'summarize_normals', 'summarize_saliency',
    'thresholds_between', 'angular_error', 'axes_matrix',
    'normals_from_depth', 'edge_seg_stats', 'normal_depth_stats',
    'masked_resample', 'masked_resize', 'masked_warp', 'unit_normals'
]
