"""Safe loading of MMEngine checkpoints with ``torch.load(weights_only=True)``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch
2.6 that means ``weights_only=True``, and the restricted unpickler refuses the
few non-tensor objects every Runner checkpoint contains, so ``resume``,
``load_from`` and ``tools/test.py`` fail. Turning safe loading off would let a
checkpoint file run arbitrary code. Instead, mmmtcp replaces mmengine's loader
of every checkpoint source (local files here, URLs and model-zoo names in
:mod:`mmmtcp.utils.checkpoint_sources`) by one that keeps
``weights_only=True`` and allow-lists exactly the globals found in mmengine
checkpoints:

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
any of it is executed. A file that is not a checkpoint at all (empty, text,
cut off while being written) fails with :class:`BrokenCheckpointError`
naming the file and what is wrong with it, before it is unpickled.
"""
import io
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


class UnsafeCheckpointError(pickle.UnpicklingError):
    """Raised when a checkpoint holds objects outside the allow-list."""


class BrokenCheckpointError(RuntimeError):
    """Raised when a file is not a readable checkpoint (empty, truncated,
    not a ``torch.save`` file)."""


# First bytes of a ``torch.save`` file: a zip archive (torch >= 1.6) or the
# pickled magic number of the legacy format (protocol 2 pickle).
_ZIP_MAGIC = b'PK\x03\x04'
_LEGACY_MAGIC = b'\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.'


def check_checkpoint_file(path: str) -> None:
    """Check that ``path`` holds a complete ``torch.save`` file.

    Reads only the first bytes and, for the zip format, the archive's
    directory (stored at its end), so a file cut off while being written is
    caught without reading the tensors.

    Args:
        path (str): Local file.

    Raises:
        FileNotFoundError: If the file does not exist.
        BrokenCheckpointError: If it is empty, truncated or not a
            checkpoint; the message names the file and the problem.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    size = osp.getsize(path)
    if size == 0:
        raise BrokenCheckpointError(
            f'Checkpoint {path} is empty (0 bytes); it was probably cut off '
            'while being written.')
    with open(path, 'rb') as f:
        head = f.read(len(_LEGACY_MAGIC))
    if head.startswith(_LEGACY_MAGIC):
        return
    if not head.startswith(_ZIP_MAGIC):
        raise BrokenCheckpointError(
            f'{path} ({size} bytes, starting with {head[:8]!r}) is not a '
            'PyTorch checkpoint: `torch.save` writes a zip archive (or, '
            'before torch 1.6, a pickle with a magic number).')
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise BrokenCheckpointError(
            f'Checkpoint {path} ({size} bytes) is truncated or corrupt ({e})'
            '; it was probably cut off while being written.') from None
    if not any(name.endswith('data.pkl') for name in names):
        raise BrokenCheckpointError(
            f'{path} is a zip archive but not a PyTorch checkpoint (no '
            '`data.pkl` inside).')


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


def safe_torch_load(file: Any,
                    map_location: Any = None,
                    name: Optional[str] = None) -> Any:
    """``torch.load`` with ``weights_only=True`` and the mmengine allow-list.

    Args:
        file: A path or a file-like object.
        map_location: Same as :func:`torch.load`.
        name (str, optional): How to name the checkpoint in error messages
            (e.g. the URL it was downloaded from). Defaults to the path.

    Returns:
        The loaded object.

    Raises:
        UnsafeCheckpointError: If the checkpoint contains a global outside
            the allow-list. Nothing from the file is executed.
        BrokenCheckpointError: If the file is not a complete checkpoint.
    """
    if name is None:
        name = file if isinstance(file, (str, os.PathLike)) else repr(file)
    if isinstance(file, (str, os.PathLike)):
        check_checkpoint_file(os.fspath(file))
    elif isinstance(file, (bytes, bytearray)):
        file = io.BytesIO(file)
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(
                file, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError) as e:
        text = str(e)
        if isinstance(e, EOFError) or any(
                k in text for k in ('PytorchStreamReader', 'zip archive',
                                    'central directory')):
            raise BrokenCheckpointError(
                f'Checkpoint {name} cannot be read ({type(e).__name__}: '
                f'{text.splitlines()[0] if text else "unexpected end of file"}'
                '); it is truncated or corrupt.') from None
        raise
    except pickle.UnpicklingError as e:
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
