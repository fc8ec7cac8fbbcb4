"""Strict loading of a part of a checkpoint into a module.

mmengine's ``Pretrained`` initialization loads with ``strict=False``: a
checkpoint of another architecture, or one whose configuration differs, loads
nothing (or part) and only logs a warning, and the model trains from random
weights. :func:`load_pretrained_strictly` takes the weights under a prefix
(e.g. ``decode_head.`` of an mmseg segmentor checkpoint) and fails with an
error naming the checkpoint when any weight of the module is missing, left
over or of another shape. The file is read through mmengine's
``CheckpointLoader``, i.e. through mmmtcp's safe loaders
(:mod:`mmmtcp.utils.checkpoint_sources`) for every source.
"""
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.runner.checkpoint import CheckpointLoader


class CheckpointMismatchError(RuntimeError):
    """Raised when a checkpoint's weights do not fit a module."""


def listed_keys(keys: Sequence[str], limit: int = 20) -> str:
    """The first ``limit`` keys joined by commas, and how many more."""
    keys = list(keys)
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys) - limit} more)'
                    if len(keys) > limit else '')


def compare_shapes(
    shapes: Mapping[str, Tuple[int, ...]],
    expected: Mapping[str, Tuple[int, ...]]
) -> Tuple[List[str], List[str], List[str]]:
    """How a set of weights differs from the weights a module expects.

    Args:
        shapes (Mapping[str, tuple]): Shape of every weight that is there.
        expected (Mapping[str, tuple]): Shape of every weight expected.

    Returns:
        tuple[list[str], list[str], list[str]]: The expected keys that are
        missing, the keys that are not expected, and the keys of both whose
        shapes differ (expected keys in ``expected``'s order).
    """
    missing = [k for k in expected if k not in shapes]
    unexpected = [k for k in shapes if k not in expected]
    mismatched = [
        k for k in expected
        if k in shapes and tuple(shapes[k]) != tuple(expected[k])
    ]
    return missing, unexpected, mismatched


def _state_dict_of(checkpoint: Any, name: str) -> Dict[str, torch.Tensor]:
    """The weights of a loaded checkpoint (``state_dict`` / ``model`` entry
    or the dict itself), without a DataParallel ``module.`` prefix."""
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(
            f'Checkpoint {name} holds a {type(checkpoint).__name__}, not a '
            'dict of weights')
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    state_dict = OrderedDict(
        (k, v) for k, v in checkpoint.items() if isinstance(v, torch.Tensor))
    if not state_dict:
        raise CheckpointMismatchError(
            f'Checkpoint {name} holds no weights (its entries: '
            f'{listed_keys(sorted(map(str, checkpoint)))})')
    if all(k.startswith('module.') for k in state_dict):
        state_dict = OrderedDict(
            (k[len('module.'):], v) for k, v in state_dict.items())
    return state_dict


def load_pretrained_strictly(module: nn.Module,
                             checkpoint: str,
                             prefix: Optional[str] = None,
                             ignore: Sequence[str] = (),
                             map_location: Any = 'cpu') -> List[str]:
    """Load the weights of ``checkpoint`` under ``prefix`` into ``module``.

    Args:
        module (nn.Module): Receives the weights; every entry of its
            ``state_dict()`` must be found.
        checkpoint (str): Path, URL or model-zoo name, read by mmengine's
            ``CheckpointLoader`` (mmmtcp's safe loaders).
        prefix (str, optional): Only the checkpoint's keys starting with it
            are read, without it (``'decode_head.'``; a missing final dot
            is added). Defaults to None: every key, as it is.
        ignore (Sequence[str]): Key prefixes (after ``prefix`` is removed)
            of checkpoint weights the module does not use, skipped.
        map_location: Same as :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        list[str]: The checkpoint's keys (without ``prefix``) that were
        skipped through ``ignore``.

    Raises:
        CheckpointMismatchError: If the checkpoint has no weights under
            ``prefix`` that the module has (another architecture), lacks
            some of the module's weights, has weights under ``prefix`` the
            module does not have, or weights of another shape. The message
            names the checkpoint and lists the keys.
    """
    owner = type(module).__name__
    if prefix and not prefix.endswith('.'):
        prefix += '.'
    where = f" under '{prefix}'" if prefix else ''
    loaded = CheckpointLoader.load_checkpoint(
        checkpoint, map_location=map_location, logger='current')
    state_dict = _state_dict_of(loaded, checkpoint)
    if prefix:
        selected = OrderedDict((k[len(prefix):], v)
                               for k, v in state_dict.items()
                               if k.startswith(prefix))
    else:
        selected = state_dict
    expected = module.state_dict()
    skipped = [k for k in selected if k.startswith(tuple(ignore))]
    selected = OrderedDict(
        (k, v) for k, v in selected.items() if k not in skipped)
    found = [k for k in expected if k in selected]
    if not found:
        heads = sorted({f"'{k.split('.', 1)[0]}.'" for k in state_dict})
        raise CheckpointMismatchError(
            f'Checkpoint {checkpoint} is not a checkpoint of {owner}: it has '
            f'none of its {len(expected)} weights{where} (e.g. '
            f'{listed_keys(list(expected), 5)}). Its keys start with '
            f'{listed_keys(heads)}' +
            (f'; {len(selected)} of them are{where}: '
             f'{listed_keys(list(selected), 5)}' if prefix and selected else
             '') + '.')
    missing, unexpected, mismatched = compare_shapes(
        {k: tuple(v.shape) for k, v in selected.items()},
        {k: tuple(v.shape) for k, v in expected.items()})
    mismatched = [
        f'{k} {tuple(selected[k].shape)} (model {tuple(expected[k].shape)})'
        for k in mismatched
    ]
    problems = []
    if missing:
        problems.append(f'{len(missing)} weights of {owner} are missing '
                        f'from the checkpoint: {listed_keys(missing)}')
    if unexpected:
        problems.append(
            f'{len(unexpected)} weights of the checkpoint{where} are not in '
            f'{owner}: {listed_keys(unexpected)}')
    if mismatched:
        problems.append(f'{len(mismatched)} weights have another shape: '
                        f'{listed_keys(mismatched)}')
    if problems:
        raise CheckpointMismatchError(
            f'Checkpoint {checkpoint} does not fit {owner}{where} (does the '
            'config match the checkpoint\'s?): ' + '; '.join(problems))
    module.load_state_dict(selected, strict=True)
    return skipped


#: The keys of a ``Pretrained`` ``init_cfg`` that
#: :func:`load_pretrained_init_cfg` reads.
PRETRAINED_CFG_KEYS = ('type', 'checkpoint', 'prefix', 'map_location')


def check_pretrained_init_cfg(cfg: Mapping, owner: str) -> None:
    """Refuse a ``Pretrained`` ``init_cfg`` with other keys than
    :data:`PRETRAINED_CFG_KEYS` or without ``checkpoint``.

    Args:
        cfg (Mapping): ``dict(type='Pretrained', checkpoint=..., ...)``.
        owner (str): The module's name, for the message.

    Raises:
        ValueError: Naming the owner and the keys given.
    """
    unknown = set(cfg) - set(PRETRAINED_CFG_KEYS)
    if unknown or 'checkpoint' not in cfg:
        raise ValueError(
            f'{owner}: `Pretrained` init_cfg takes checkpoint (required), '
            f'prefix and map_location, got {sorted(cfg)}')


def load_pretrained_init_cfg(module: nn.Module,
                             cfg: Mapping,
                             ignore: Sequence[str] = ()) -> List[str]:
    """Load a ``Pretrained`` ``init_cfg`` into ``module`` strictly.

    Args:
        module (nn.Module): Receives the weights.
        cfg (Mapping): ``dict(type='Pretrained', checkpoint=...,
            prefix=None, map_location='cpu')`` (checked by
            :func:`check_pretrained_init_cfg`).
        ignore (Sequence[str]): As :func:`load_pretrained_strictly`.

    Returns:
        list[str]: As :func:`load_pretrained_strictly`.
    """
    check_pretrained_init_cfg(cfg, type(module).__name__)
    return load_pretrained_strictly(
        module,
        cfg['checkpoint'],
        prefix=cfg.get('prefix'),
        ignore=ignore,
        map_location=cfg.get('map_location', 'cpu'))
