from .affinity_propagation import (AFFINITY_IMPLS, affinity_propagation,
                                   resolve_affinity_impl, sdpa_inputs)
from .cbam import CBAM
from .coherence_fusion_module import CoherenceFusionModule
from .fpn_fusion import FPNFusion
from .spatial_refinement_module import SpatialRefinementModule
from .swin_task_decoder import SwinTaskDecoder
from .task_decoder import TaskDecoder

__all__ = [
    'AFFINITY_IMPLS', 'affinity_propagation', 'resolve_affinity_impl',
    'sdpa_inputs', 'CBAM',
    'CoherenceFusionModule', 'FPNFusion', 'SpatialRefinementModule',
    'SwinTaskDecoder', 'TaskDecoder'
]
