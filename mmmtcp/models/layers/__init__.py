from .affinity_propagation import (AFFINITY_IMPLS, affinity_propagation,
                                   resolve_affinity_impl, sdpa_inputs)
from .cbam import CBAM
from .coherence_fusion_module import CoherenceFusionModule
from .spatial_refinement_module import SpatialRefinementModule
from .task_decoder import TaskDecoder

__all__ = [
    'AFFINITY_IMPLS', 'affinity_propagation', 'resolve_affinity_impl',
    'sdpa_inputs', 'CBAM',
    'CoherenceFusionModule', 'SpatialRefinementModule', 'TaskDecoder'
]
