"""Optimizer wrappers of mmmtcp."""
from .skip_nonfinite_optim_wrapper import (NonFiniteSkipMixin,
                                           SkipNonFiniteAmpOptimWrapper,
                                           SkipNonFiniteOptimWrapper,
                                           is_skipping, wrappers_of)

__all__ = [
    'NonFiniteSkipMixin', 'SkipNonFiniteOptimWrapper',
    'SkipNonFiniteAmpOptimWrapper', 'is_skipping', 'wrappers_of'
]
