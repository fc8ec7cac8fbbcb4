"""Safe loading of MMEngine checkpoints with ``torch.load(weights_only=True)``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch
2.6 that means ``weights_only=True``, and the restricted unpickler refuses the
few non-tensor objects every Runner checkpoint contains, so ``resume``,
``load_from`` and ``tools/test.py`` fail. Turning safe loading off would let a
checkpoint file run arbitrary code. Instead, mmmtcp replaces mmengine's loader
for local files by one that keeps ``weights_only=True`` and allow-lists
exactly the globals found in mmengine checkpoints:

- ``mmengine.logging.history_buffer.HistoryBuffer`` (message hub scalars),
- ``numpy.ndarray``, ``numpy.dtype``, the numeric ``numpy.dtypes`` classes,
  ``numpy.core.multiarray._reconstruct`` and ``numpy.core.multiarray.scalar``
  (arrays and scalars stored in the history buffers),
- ``builtins.getattr``, but only through a restricted replacement that can do
  nothing except look up the statistics methods (``min``, ``max``,
  ``current``, ``mean``, ...) of ``HistoryBuffer``, which is how the buffers
  pickle their method table.

Anything else in the pickle stream (for example ``os.system`` hidden in a
``__reduce__``) makes loading fail with :class:`UnsafeCheckpointError` before
any of it is executed.
"""
import os.path as osp
import pickle
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


class UnsafeCheckpointError(pickle.UnpicklingError):
    """Raised when a checkpoint holds objects outside the allow-list."""


def _restricted_getattr(obj: Any, name: str) -> Any:
    """``getattr`` limited to the statistics methods of ``HistoryBuffer``."""
    if obj is HistoryBuffer and isinstance(name, str) and (
            name in HistoryBuffer._statistics_methods
            or name in ('min', 'max', 'current', 'mean')):
        return getattr(HistoryBuffer, name)
    raise UnsafeCheckpointError(
        f'refusing getattr({obj!r}, {name!r}) while unpickling a checkpoint')


def _numpy_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    # numpy < 2 keeps these in numpy.core, numpy >= 2 in numpy._core; the
    # name recorded in the pickle is the one of the numpy that wrote it.
    try:
        from numpy.core import multiarray
    except ImportError:  # pragma: no cover - numpy >= 2 without numpy.core
        from numpy._core import multiarray
    entries: List[Union[Callable, Tuple[Callable, str]]] = [
        np.ndarray, np.dtype
    ]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries.append((multiarray._reconstruct, f'{module}._reconstruct'))
        entries.append((multiarray.scalar, f'{module}.scalar'))
    for code in '?bBhHiIlLqQefdgFDG':
        entries.append(type(np.dtype(code)))
    return entries


def checkpoint_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """Return the allow-list used by :func:`safe_torch_load`.

    Returns:
        list: Entries in the format of
        :func:`torch.serialization.add_safe_globals`.
    """
    return [HistoryBuffer, (_restricted_getattr, 'builtins.getattr'),
            (_restricted_getattr, '__builtin__.getattr')] + _numpy_globals()


def safe_torch_load(file: Any, map_location: Any = None) -> Any:
    """``torch.load`` with ``weights_only=True`` and the mmengine allow-list.

    Args:
        file: A path or a file-like object.
        map_location: Same as :func:`torch.load`.

    Returns:
        The loaded object.

    Raises:
        UnsafeCheckpointError: If the checkpoint contains a global outside
            the allow-list. Nothing from the file is executed.
    """
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(
                file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        name = file if isinstance(file, str) else repr(file)
        detail = str(e)
        if 'WeightsUnpickler error:' in detail:
            detail = detail.split('WeightsUnpickler error:', 1)[1]
            detail = detail.split('Check the documentation', 1)[0].strip()
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {name}: it contains pickled objects '
            'that are not allowed in an mmengine checkpoint, and loading it '
            'could run arbitrary code. Only load it with weights_only=False '
            f'if you trust its source. Details: {detail}') from None


def load_from_local_safely(filename: str, map_location: Any = None) -> Any:
    """Checkpoint loader for local paths (replaces mmengine's default).

    Args:
        filename (str): Local checkpoint path.
        map_location: Same as :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, map_location=map_location)


def register_safe_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints through the safe loader."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_safely, force=True)
