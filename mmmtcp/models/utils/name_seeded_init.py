"""Weight initialization that depends on a module's name, not on the order
in which modules draw random numbers.

Two models that share parts (the plain multi-task baseline and MT-CP share
the backbone, the neck, the task decoders and the output layers) should
start from identical shared weights for the same seed, so that a comparison
"paired by seed" measures the method and not the initialization. With
PyTorch's global generator that is not the case: every layer draws its
initial weights from one stream, at construction and again in
``init_weights()``, so a head that builds more layers shifts the stream for
everything initialized after it (the backbone's ``init_weights()`` runs
after the whole model has been constructed).

:func:`init_weights_by_name` gives every module its own stream, seeded from
the run's seed and the module's qualified name:

1. every module that has ``reset_parameters()`` (PyTorch's layers) redraws
   its construction-time initialization from ``seed(name)``;
2. every ``init_weights()`` in the tree (mmengine's ``BaseModule`` and
   mmcv's ``ConvModule``) runs from ``seed(name + '#init')``: a module's
   initialization then depends only on its own structure, whatever was
   built or initialized before it;
3. the global generator is finally seeded from ``seed('#train')``, so that
   what training draws (dropout, drop path, the contrastive regularizer's
   task draws) also starts from the same state for every method.

Parameters that a module creates from the generator in its constructor
without a ``reset_parameters()`` (rare in mmseg/mmpretrain, which initialize
such tensors in ``init_weights()``) keep their construction-time values.
"""
import hashlib
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn as nn


def name_seed(base_seed: int, name: str) -> int:
    """A 63-bit seed derived from ``base_seed`` and a module name.

    Args:
        base_seed (int): The run's seed.
        name (str): Qualified module name (``''`` for the root) or a tag.

    Returns:
        int: A seed for :func:`torch.manual_seed`, stable across processes
        and Python versions (``hash()`` is salted per process).
    """
    digest = hashlib.sha256(f'{int(base_seed)}/{name}'.encode()).digest()
    return int.from_bytes(digest[:8], 'little') & (2**63 - 1)


def _seeded(fn: Callable, seed: int) -> Callable:

    def wrapped(*args, **kwargs):
        torch.manual_seed(seed)
        return fn(*args, **kwargs)

    return wrapped


def init_weights_by_name(model: nn.Module,
                         init_fn: Callable[[], None],
                         base_seed: Optional[int] = None) -> None:
    """Run ``init_fn`` (the model's ``init_weights``) with per-module seeds.

    Args:
        model (nn.Module): The root module.
        init_fn (callable): Initializes ``model`` (typically the parent
            class' ``init_weights`` bound to it); every ``init_weights()``
            it reaches in the module tree runs from its module's own seed.
        base_seed (int, optional): The run's seed. Defaults to
            ``torch.initial_seed()``, the seed the Runner (mmengine's
            ``set_random_seed``) gave PyTorch.
    """
    if getattr(model, '_is_init', False):
        init_fn()  # mmengine warns that it was called more than once
        return
    if base_seed is None:
        base_seed = torch.initial_seed()
    for name, module in model.named_modules():
        reset = getattr(module, 'reset_parameters', None)
        if callable(reset):
            torch.manual_seed(name_seed(base_seed, name))
            reset()
    patched: List[Tuple[nn.Module, bool]] = []
    try:
        for name, module in model.named_modules():
            if not name or not callable(getattr(module, 'init_weights',
                                                None)):
                continue
            # an instance attribute shadows the class' method for the calls
            # a parent's init_weights makes to its children
            had_own = 'init_weights' in vars(module)
            module.__dict__['_unseeded_init_weights'] = module.init_weights
            module.__dict__['init_weights'] = _seeded(
                module.init_weights, name_seed(base_seed, name + '#init'))
            patched.append((module, had_own))
        torch.manual_seed(name_seed(base_seed, '#init'))
        init_fn()
    finally:
        for module, had_own in patched:
            original = module.__dict__.pop('_unseeded_init_weights')
            if had_own:
                module.__dict__['init_weights'] = original
            else:
                del module.__dict__['init_weights']
    torch.manual_seed(name_seed(base_seed, '#train'))
