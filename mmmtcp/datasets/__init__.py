from mmmtcp.functional.geometry import (NORMAL_AXES, NYUD_INTRINSICS,
                                        normals_from_depth)
from mmmtcp.functional.image_check import DamagedImageError, check_image_bytes

from . import transforms  # noqa: F401
from .nyud import NYUD40_CLASSES, NYUDv2Dataset
from .pascal_context_mt import (HUMAN_PARTS_CLASSES, VOC_CLASSES,
                                PascalContextMTDataset)
from .synthetic import generate_scenes
from .transforms import (LoadCheckedImageFromFile, LoadMultiTaskAnnotations,
                         MultiTaskPad, MultiTaskRandomCrop,
                         MultiTaskRandomFlip, MultiTaskRandomResize,
                         MultiTaskResize, PackMultiTaskInputs)

__all__ = [
    'NYUDv2Dataset', 'PascalContextMTDataset', 'generate_scenes',
    'normals_from_depth', 'NORMAL_AXES', 'NYUD_INTRINSICS', 'NYUD40_CLASSES',
    'VOC_CLASSES', 'HUMAN_PARTS_CLASSES', 'LoadCheckedImageFromFile',
    'LoadMultiTaskAnnotations', 'DamagedImageError', 'check_image_bytes',
    'MultiTaskRandomFlip', 'MultiTaskResize', 'MultiTaskRandomResize',
    'MultiTaskRandomCrop', 'MultiTaskPad', 'PackMultiTaskInputs'
]
