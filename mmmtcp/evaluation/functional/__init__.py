from mmmtcp.utils.boundary_maps import seg2bmap
from mmmtcp.utils.geometry import (angular_error, axes_matrix,
                                   normals_from_depth)
from .boundary import (MATCHERS, SEISM_THRESHOLDS, boundary_match_counts,
                       boundary_pr_counts, dilate_disk, f_measure,
                       label_boundaries, match_counts, pr_from_counts, thin,
                       tolerance_in_pixels)
from .correspond_pixels import GroundTruthNeighbours, correspond_counts
from .edge_nms import edge_nms, edge_orientation, quantize_uint8
from .coherence import edge_seg_stats, normal_depth_stats
from .dense import (ANGLE_BIN_WIDTH, ANGLE_THRESHOLDS, NONFINITE_LABEL,
                    WORST_ANGLE, depth_stats, edge_stats, histogram_median,
                    label_stats, nonfinite_labels, normal_stats,
                    saliency_stats, sum_stats, summarize_depth,
                    summarize_edges, summarize_labels, summarize_normals,
                    summarize_saliency, thresholds_between)
from .sample import get_metainfo, get_pixel_data, write_prediction

__all__ = [
    'MATCHERS', 'SEISM_THRESHOLDS', 'GroundTruthNeighbours',
    'correspond_counts', 'edge_nms', 'edge_orientation', 'quantize_uint8',
    'match_counts', 'seg2bmap',
    'boundary_match_counts', 'boundary_pr_counts', 'dilate_disk', 'f_measure',
    'label_boundaries', 'pr_from_counts', 'thin', 'tolerance_in_pixels',
    'ANGLE_BIN_WIDTH', 'ANGLE_THRESHOLDS', 'NONFINITE_LABEL', 'WORST_ANGLE',
    'depth_stats', 'edge_stats', 'histogram_median', 'label_stats',
    'nonfinite_labels', 'normal_stats', 'saliency_stats',
    'sum_stats', 'summarize_depth', 'summarize_edges', 'summarize_labels',
    'summarize_normals', 'summarize_saliency', 'thresholds_between',
    'angular_error', 'axes_matrix', 'normals_from_depth',
    'get_metainfo', 'get_pixel_data', 'edge_seg_stats', 'normal_depth_stats',
    'write_prediction'
]
