"""Registries of mmmtcp's own kinds of building blocks.

Models, datasets, transforms, metrics and hooks go to mmseg's registries
(so that mmseg configs can mix them); what has no mmseg counterpart lives
here:

- ``TASK_KINDS``: kinds of dense task (labels, binary masks, boundaries,
  depth, normals, n-channel regression), see :mod:`mmmtcp.tasks`.
"""
from mmengine.registry import Registry

TASK_KINDS = Registry('task kind', locations=['mmmtcp.tasks'])
