"""Model utilities of mmmtcp."""
from .name_seeded_init import init_weights_by_name, name_seed

__all__ = ['init_weights_by_name', 'name_seed']
