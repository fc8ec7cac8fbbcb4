"""Putting a release at the configs' ``data_root``, all or nothing.

:func:`prepare_data_root` takes a release archive or an extracted folder.
An archive is hashed, extracted into a temporary sibling of the output and
the folder with the data set's layout is moved into place; a folder is
linked, copied or moved there. The result is built next to the output and
installed by a rename only when complete, so an interrupted run leaves
the output as it was.

The temporary siblings are named ``<output>.tmp-<host>-<pid>-<random>``
(and ``<output>.old-...`` for a replaced output set aside until the new
one is in place). A run killed before it could remove them leaves them
behind; the next run removes the ``.tmp-`` folders of runs that have ended
with a warning naming them (:func:`clean_interrupted_runs`), refuses to
start while another run is writing one, and names any ``.old-`` folder
(which may hold the previous output) without touching it.
"""
import os
import os.path as osp
import re
import shutil
import socket
import sys
import tempfile
import time
from typing import Callable, List, Optional, Tuple

from release_archive import archive_type, extract_archive, sha256sum
from release_root import find_dataset_root

#: How a folder source is put at the output.
MODES = ('symlink', 'copy', 'move')


def _output_taken(out_dir: str) -> bool:
    """Whether ``out_dir`` exists as anything but an empty folder."""
    if osp.islink(out_dir) or osp.isfile(out_dir):
        return True
    return osp.isdir(out_dir) and bool(os.listdir(out_dir))


def _set_aside(out_dir: str) -> str:
    """Move ``out_dir`` into a new temporary sibling (as ``data``).

    Returns:
        str: The temporary sibling.
    """
    old = tempfile.mkdtemp(
        prefix=_sibling_prefix(out_dir, 'old'), dir=osp.dirname(out_dir))
    os.replace(out_dir, osp.join(old, 'data'))
    return old


def _install(new: str, out_dir: str) -> None:
    """Move ``new`` (same file system) to ``out_dir``, replacing what is
    there; the old content is removed only after the move succeeded.

    Args:
        new (str): The complete result.
        out_dir (str): The destination; an empty folder there is removed,
            anything else is set aside and put back if the move fails.
    """
    old = None
    if osp.islink(out_dir) or osp.isfile(out_dir):
        old = _set_aside(out_dir)
    elif osp.isdir(out_dir):
        if os.listdir(out_dir):
            old = _set_aside(out_dir)
        else:
            os.rmdir(out_dir)
    try:
        os.replace(new, out_dir)
    except BaseException:
        if old is not None and not osp.lexists(out_dir):
            os.replace(osp.join(old, 'data'), out_dir)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_request(source: str, out_dir: str, mode: str,
                   overwrite: bool) -> None:
    """Refuse a missing source, an unknown mode or a taken output."""
    if not osp.exists(source):
        raise FileNotFoundError(f'{source} does not exist')
    if mode not in MODES:
        raise ValueError(f'mode must be symlink, copy or move, got {mode!r}')
    if _output_taken(out_dir) and not overwrite:
        raise FileExistsError(
            f'{out_dir} exists and is not empty; pass --overwrite to replace '
            f'it, or check it with --check {out_dir}')


def _owner_tag() -> str:
    """``<host>-<pid>`` of this process, for the names of its siblings."""
    host = re.sub(r'[^A-Za-z0-9.]', '_', socket.gethostname()) or 'host'
    return f'{host}-{os.getpid()}'


def _sibling_prefix(out_dir: str, kind: str) -> str:
    """Name prefix of this process's ``kind`` (``'tmp'`` or ``'old'``)
    siblings of ``out_dir``: ``<name>.<kind>-<host>-<pid>-``."""
    return f'{osp.basename(out_dir)}.{kind}-{_owner_tag()}-'


def _staging_prefix(out_dir: str) -> str:
    """Name prefix of the temporary siblings of ``out_dir``."""
    return _sibling_prefix(out_dir, 'tmp')


#: ``<host>-<pid>-<mkdtemp suffix>`` of a tagged sibling, or the
#: ``<mkdtemp suffix>`` alone of the untagged ones of earlier versions
_TAGGED = re.compile(r'(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)-[a-z0-9_]+')
_UNTAGGED = re.compile(r'[a-z0-9_]{8}')


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _folder_size(path: str) -> int:
    """Bytes of the files below ``path`` (links not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(osp.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _leftovers(out_dir: str,
               kind: str) -> List[Tuple[str, Optional[str], Optional[int]]]:
    """The ``kind`` siblings of ``out_dir`` (real folders named by this
    module), each as ``(path, host, pid)`` (host and pid None when the
    name is untagged)."""
    parent = osp.dirname(out_dir)
    prefix = f'{osp.basename(out_dir)}.{kind}-'
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    found = []
    for name in names:
        path = osp.join(parent, name)
        if (not name.startswith(prefix) or osp.islink(path)
                or not osp.isdir(path)):
            continue
        rest = name[len(prefix):]
        tagged = _TAGGED.fullmatch(rest)
        if tagged:
            found.append((path, tagged['host'], int(tagged['pid'])))
        elif _UNTAGGED.fullmatch(rest):
            found.append((path, None, None))
    return found


def _owner(host: Optional[str], pid: Optional[int]) -> str:
    """Who wrote a sibling, for messages."""
    if pid is None:
        return 'an earlier version of this converter'
    return f'PID {pid} on {host}'


def _in_use(host: Optional[str], pid: Optional[int]) -> bool:
    """Whether the process that wrote a sibling may still be running:
    a live process of this host other than this one, or any process of
    another host (which cannot be checked from here)."""
    if pid is None:
        return False
    this_host, this_pid = _owner_tag().rsplit('-', 1)
    if host != this_host:
        return True
    return pid != int(this_pid) and _pid_alive(pid)


def clean_interrupted_runs(out_dir: str) -> List[str]:
    """Remove the temporary folders an interrupted run left next to
    ``out_dir``, with a warning that names them.

    A ``<name>.tmp-...`` sibling is removed when the run that wrote it has
    ended (or predates the tagging of the names). While it may still be in
    use (its process runs on this host, or it was written on another host)
    nothing is removed and the run is refused. ``<name>.old-...`` siblings
    hold an output set aside while it was being replaced, possibly the
    only copy of it: they are named in a warning and left alone.

    Args:
        out_dir (str): The absolute output folder.

    Returns:
        list[str]: The folders removed.

    Raises:
        FileExistsError: A temporary folder may belong to a running
            converter; the message names it, its owner and what to do.
    """
    stale = []
    for path, host, pid in _leftovers(out_dir, 'tmp'):
        if _in_use(host, pid):
            raise FileExistsError(
                f'{path} is a temporary folder of another run preparing '
                f'{out_dir} ({_owner(host, pid)}), which may still be '
                'running; wait for it to end, or remove the folder if no '
                'converter is running (a reused PID or another host cannot '
                'be told apart from here)')
        stale.append((path, host, pid))
    for path, host, pid in stale:
        size = _folder_size(path) / 1e6
        print(f'warning: removing {path} ({size:.1f} MB), a temporary '
              f'folder left by an interrupted run of this converter '
              f'({_owner(host, pid)}, no longer running)',
              file=sys.stderr, flush=True)
        shutil.rmtree(path)
    for path, host, pid in _leftovers(out_dir, 'old'):
        if _in_use(host, pid):
            continue
        if osp.lexists(out_dir):
            advice = ('it is not removed automatically; remove it once you '
                      'no longer need it')
        else:
            advice = (f'{out_dir} is missing: move {path}/data back to '
                      f'{out_dir} to restore it, or remove the folder')
        print(f'warning: {path} was left by an interrupted run of this '
              f'converter ({_owner(host, pid)}); its data/ is the earlier '
              f'content of {out_dir}, set aside while it was being '
              f'replaced; {advice}',
              file=sys.stderr, flush=True)
    return [path for path, _, _ in stale]


def _print_sha256(archive: str) -> None:
    """Print the archive's SHA-256, to compare with the source's."""
    print(f'Computing the SHA-256 of {archive} ...', flush=True)
    print(f'SHA-256: {sha256sum(archive)}  {osp.basename(archive)}',
          flush=True)


def _extract_timed(archive: str, dest: str) -> None:
    """Extract ``archive`` into ``dest``, printing the count and time."""
    print(f'Extracting into {dest} ...', flush=True)
    start = time.perf_counter()
    count = extract_archive(archive, dest)
    print(f'Extracted {count} members in '
          f'{time.perf_counter() - start:.1f} s', flush=True)


def _nest(tmp: str, parent: str, prefix: str) -> str:
    """Move the folder ``tmp`` into a new temporary folder, as ``data``.

    Used for an archive without a top-level folder: the extraction folder
    itself becomes the result.

    Returns:
        str: The new temporary folder.
    """
    staged = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.replace(tmp, osp.join(staged, 'data'))
    return staged


def _set_new_folder_mode(path: str) -> None:
    """Give ``path`` the permissions of a new folder (not mkdtemp's 0700)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)


def _place_archive(archive: str, out_dir: str,
                   is_root: Callable[[str], bool], layout: str) -> None:
    """Hash and extract ``archive`` next to ``out_dir``, then install the
    folder with the layout; the extraction is removed in any case."""
    if archive_type(archive) is None:
        raise ValueError(f'{archive} is neither a tar (.tar, .tar.gz, '
                         '.tgz) nor a zip archive')
    _print_sha256(archive)
    parent, prefix = osp.dirname(out_dir), _staging_prefix(out_dir)
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        _extract_timed(archive, tmp)
        root = find_dataset_root(tmp, is_root, layout)
        if root == tmp:
            tmp = _nest(tmp, parent, prefix)
            root = osp.join(tmp, 'data')
            _set_new_folder_mode(root)
        _install(root, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _refuse_overlap(root: str, out_dir: str) -> None:
    """Refuse an output that is, holds or lies in the release folder.

    ``out_dir`` itself may be a link to the release: it is replaced, not
    followed, so only its parent is resolved.
    """
    real_out = osp.join(
        osp.realpath(osp.dirname(out_dir)), osp.basename(out_dir))
    real_root = osp.realpath(root)
    if (real_out == real_root or real_out.startswith(real_root + os.sep)
            or real_root.startswith(real_out + os.sep)):
        raise ValueError(f'The release folder {root} and the output '
                         f'{out_dir} overlap; choose another output or '
                         'check the folder in place with --check')


def _link(root: str, out_dir: str) -> None:
    """Install a symbolic link to ``root`` at ``out_dir``."""
    tmp = tempfile.mkdtemp(
        prefix=_staging_prefix(out_dir), dir=osp.dirname(out_dir))
    try:
        link = osp.join(tmp, 'link')
        os.symlink(root, link, target_is_directory=True)
        _install(link, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'Linked {out_dir} -> {root}')


def _copy(root: str, out_dir: str, move: bool) -> None:
    """Copy ``root`` to a temporary sibling of ``out_dir`` and install it;
    with ``move``, remove ``root`` afterwards."""
    tmp = tempfile.mkdtemp(
        prefix=_staging_prefix(out_dir), dir=osp.dirname(out_dir))
    try:
        print(f'Copying {root} into {tmp} ...', flush=True)
        shutil.copytree(root, osp.join(tmp, 'data'), symlinks=True)
        _install(osp.join(tmp, 'data'), out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if move:
        shutil.rmtree(root)
    print(f'{"Moved" if move else "Copied"} {root} to {out_dir}')


def _place_folder(source: str, out_dir: str, is_root: Callable[[str], bool],
                  layout: str, mode: str) -> None:
    """Link, copy or move the folder with the layout to ``out_dir``.

    A move across file systems is a copy followed by the removal of the
    release folder.
    """
    root = osp.abspath(find_dataset_root(source, is_root, layout))
    _refuse_overlap(root, out_dir)
    if mode == 'symlink':
        _link(root, out_dir)
    elif (mode == 'copy' or
          os.stat(root).st_dev != os.stat(osp.dirname(out_dir)).st_dev):
        _copy(root, out_dir, move=mode == 'move')
    else:
        _install(root, out_dir)
        print(f'Moved {root} to {out_dir}')


def prepare_data_root(source: str,
                      out_dir: str,
                      is_root: Callable[[str], bool],
                      layout: str,
                      mode: str = 'symlink',
                      overwrite: bool = False) -> str:
    """Put the release ``source`` at ``out_dir`` in the data set's layout.

    An archive is hashed (SHA-256, printed), extracted into a temporary
    sibling of ``out_dir``, searched for the folder with the layout (the
    release's single top-level folder, or the archive's root) and that
    folder is moved into place. A folder is linked (``mode='symlink'``),
    copied (through a temporary sibling) or moved to ``out_dir``. Nothing
    is written to ``out_dir`` before the result is complete; an existing
    ``out_dir`` that is not an empty folder is replaced only with
    ``overwrite``. Temporary folders of interrupted runs are removed
    first (:func:`clean_interrupted_runs`).

    Args:
        source (str): Release archive or extracted folder.
        out_dir (str): Destination (the ``data_root`` of the configs).
        is_root (Callable[[str], bool]): Whether a folder has the layout.
        layout (str): The layout, for error messages.
        mode (str): For a folder: ``'symlink'``, ``'copy'`` or ``'move'``.
            Defaults to ``'symlink'``.
        overwrite (bool): Replace an existing non-empty ``out_dir``.
            Defaults to False.

    Returns:
        str: The absolute path of ``out_dir``.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        FileExistsError: ``out_dir`` is taken and ``overwrite`` is False,
            or another run may be preparing it.
        LayoutError: ``source`` has no folder with the layout.
        ValueError: ``source`` is not an archive or overlaps ``out_dir``.
    """
    source = osp.abspath(source)
    out_dir = osp.abspath(out_dir)
    clean_interrupted_runs(out_dir)
    _check_request(source, out_dir, mode, overwrite)
    os.makedirs(osp.dirname(out_dir), exist_ok=True)
    if osp.isfile(source):
        _place_archive(source, out_dir, is_root, layout)
    else:
        _place_folder(source, out_dir, is_root, layout, mode)
    return out_dir
