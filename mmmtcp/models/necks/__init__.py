from .mask2former_shared_representation import \
    Mask2FormerSharedRepresentation
from .vit_pyramid_neck import ViTPyramidNeck

__all__ = ['Mask2FormerSharedRepresentation', 'ViTPyramidNeck']
