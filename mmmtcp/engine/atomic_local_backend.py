"""A local file backend whose writes are atomic.

mmengine writes a checkpoint with ``LocalBackend.put``, which opens the
final path and writes into it: a process killed meanwhile leaves a
truncated file under the checkpoint's name. :class:`AtomicLocalBackend`
writes to a hidden temporary file in the same folder, flushes it to disk
(``fsync``), and renames it over the final name (``os.replace``, atomic on
POSIX and Windows), then syncs the folder so that the rename itself
survives a power loss. A reader therefore sees the old file or the complete
new one, never a partial one. A kill leaves at most a ``.<name>.tmp`` file
behind, which :class:`SafeCheckpointHook` removes at the next start.
"""
import os
import os.path as osp
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

#: pattern of the temporary names, ``.<final name>.tmp``
TMP_TEMPLATE = '.{}.tmp'


def _fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (no-op where folders cannot be
    opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(filepath: Union[str, Path], data: Union[bytes, str]) -> None:
    """Write ``data`` to ``filepath`` through a synced temporary file and an
    atomic rename.

    Args:
        filepath (str | Path): Destination.
        data (bytes | str): Content; ``str`` is encoded as UTF-8.
    """
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, TMP_TEMPLATE.format(osp.basename(filepath)))
    if isinstance(data, str):
        data = data.encode('utf-8')
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` with atomic ``put`` and
    ``put_text`` (see module docstring). Select it with
    ``backend_args=dict(backend='atomic_local')``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes atomically.

        Args:
            obj (bytes): Data to be written.
            filepath (str | Path): Path to write data.
        """
        atomic_write(filepath, obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text atomically.

        Args:
            obj (str): Text to be written.
            filepath (str | Path): Path to write data.
            encoding (str): Text encoding. Defaults to 'utf-8'.
        """
        atomic_write(filepath, obj.encode(encoding))
