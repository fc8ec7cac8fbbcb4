from .crop import MultiTaskRandomCrop
from .flip import MultiTaskRandomFlip
from .formatting import PackMultiTaskInputs
from .loading import LoadCheckedImageFromFile, LoadMultiTaskAnnotations
from .pad import MultiTaskPad
from .random_resize import MultiTaskRandomResize
from .resize import MultiTaskResize
from .scale_rotate import MultiTaskRandomScaleRotate

__all__ = [
    'LoadCheckedImageFromFile', 'LoadMultiTaskAnnotations',
    'MultiTaskRandomFlip', 'MultiTaskResize', 'MultiTaskRandomResize',
    'MultiTaskRandomCrop', 'MultiTaskPad', 'PackMultiTaskInputs',
    'MultiTaskRandomScaleRotate'
]
