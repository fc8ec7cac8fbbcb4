"""Finding the folder of a release that has the data set's layout.

A release archive usually holds one top-level folder (e.g. ``NYUDv2/``)
and a user may point at a folder above the release: :func:`find_dataset_root`
searches a few levels for the single folder a data set's ``is_root``
accepts, and :class:`LayoutError` says what was found instead, with a
short listing of the folder.
"""
import os
from typing import Callable, List

#: Folders never searched (archive tools' metadata).
_SKIP_DIRS = ('__MACOSX', )


class LayoutError(RuntimeError):
    """The source holds no folder (or several) with the expected layout."""


def _listing(folder: str, depth: int = 2, limit: int = 12) -> str:
    """A short listing of a folder for error messages.

    Args:
        folder (str): The folder.
        depth (int): Levels listed. Defaults to 2.
        limit (int): Entries listed at most. Defaults to 12.

    Returns:
        str: One indented line per entry (folders end with ``/``).
    """
    lines = []

    def walk(path: str, level: int) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            if len(lines) >= limit:
                return
            is_dir = e.is_dir()
            lines.append('  ' * level + e.name + ('/' if is_dir else ''))
            if is_dir and level + 1 < depth:
                walk(e.path, level + 1)

    walk(folder, 0)
    if not lines:
        return '  (empty)'
    more = '\n  ...' if len(lines) >= limit else ''
    return '\n'.join('  ' + line for line in lines) + more


def _subfolders(path: str) -> List[str]:
    """The folders searched below ``path``: not hidden, not skipped."""
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return []
    return [
        e.path for e in entries if e.is_dir() and not e.name.startswith('.')
        and e.name not in _SKIP_DIRS
    ]


def find_dataset_root(folder: str,
                      is_root: Callable[[str], bool],
                      layout: str,
                      max_depth: int = 3) -> str:
    """The folder at or below ``folder`` that has the data set's layout.

    Searched breadth first, ``max_depth`` levels deep, without descending
    into a folder that already matches (so the single top-level folder of
    a release archive, e.g. ``NYUDv2/``, is found).

    Args:
        folder (str): Extracted archive or a user's folder.
        is_root (Callable[[str], bool]): Whether a folder has the layout.
        layout (str): The layout, for the error message.
        max_depth (int): Levels searched below ``folder``. Defaults to 3.

    Returns:
        str: The matching folder.

    Raises:
        LayoutError: No folder or several folders match.
    """
    found = []
    level = [folder]
    for _ in range(max_depth + 1):
        below = []
        for path in level:
            if is_root(path):
                found.append(path)
            else:
                below += _subfolders(path)
        level = below
    if len(found) == 1:
        return found[0]
    if not found:
        raise LayoutError(
            f'No folder in {folder} (searched {max_depth} levels deep) has '
            f'the expected layout ({layout}). It holds:\n{_listing(folder)}')
    raise LayoutError(
        f'Several folders in {folder} have the layout ({layout}): '
        f'{", ".join(found)}; pass the one to use.')
