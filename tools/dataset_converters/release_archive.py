"""Release archives: their checksum, their kind and their safe extraction.

:func:`sha256sum` hashes the file a user downloaded (the converters print
it, to compare with the source), :func:`archive_type` tells a zip from a
tar by content, and :func:`extract_archive` unpacks either, refusing
members that would land outside the destination.
"""
import hashlib
import os
import os.path as osp
import tarfile
import zipfile
from typing import Optional


def sha256sum(path: str, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks.

    Args:
        path (str): The file.
        chunk_size (int): Bytes read at a time. Defaults to 1 MiB.

    Returns:
        str: The hexadecimal digest (64 characters).
    """
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk_size), b''):
            digest.update(block)
    return digest.hexdigest()


def archive_type(path: str) -> Optional[str]:
    """The kind of archive ``path`` holds, from its content.

    Args:
        path (str): The file.

    Returns:
        str, optional: ``'zip'``, ``'tar'`` (any compression) or None.
    """
    if zipfile.is_zipfile(path):
        return 'zip'
    try:
        if tarfile.is_tarfile(path):
            return 'tar'
    except OSError:
        pass
    return None


def _inside(base: str, path: str) -> bool:
    """Whether ``path`` is ``base`` or below it, links resolved."""
    base = osp.realpath(base)
    path = osp.realpath(path)
    return path == base or path.startswith(base + os.sep)


def _extract_tar(archive: str, dest: str) -> int:
    """Extract a tar archive, refusing members that leave ``dest``.

    Python's ``'data'`` extraction filter does the refusing where Python
    has it; otherwise every member and link target is checked first.
    """
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        if hasattr(tarfile, 'data_filter'):
            try:
                tf.extractall(dest, filter='data')
            except tarfile.FilterError as e:
                raise ValueError(f'{archive}: refusing to extract: {e}') \
                    from e
        else:  # pragma: no cover - Python without extraction filters
            for m in members:
                target = osp.join(dest, m.name)
                link = (osp.join(osp.dirname(target), m.linkname)
                        if m.issym() or m.islnk() else target)
                if (osp.isabs(m.name) or not _inside(dest, target)
                        or not _inside(dest, link)):
                    raise ValueError(f'{archive}: refusing to extract '
                                     f'{m.name!r} (outside the destination)')
            tf.extractall(dest)
    return len(members)


def extract_archive(archive: str, dest: str) -> int:
    """Extract a ``.tar(.gz|.bz2|.xz)`` / ``.tgz`` / ``.zip`` into ``dest``.

    Members with absolute paths, ``..`` components or links pointing
    outside ``dest`` are refused (tar: the ``'data'`` extraction filter
    where Python has it, otherwise an explicit check; zip: ``zipfile``
    never writes outside the destination).

    Args:
        archive (str): The archive file.
        dest (str): An existing, empty folder.

    Returns:
        int: The number of members extracted.

    Raises:
        ValueError: The file is not a supported archive or a member would
            be written outside ``dest``.
    """
    kind = archive_type(archive)
    if kind == 'zip':
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            zf.extractall(dest)
        return len(members)
    if kind != 'tar':
        raise ValueError(f'{archive} is neither a tar (.tar, .tar.gz, .tgz) '
                         'nor a zip archive')
    return _extract_tar(archive, dest)
