"""Shared machinery of the data set preparation tools of this folder.

Not a tool of its own: run ``nyud.py`` or ``pascal_context.py``. It holds

- the placement of a release: :func:`sha256sum`, :func:`extract_archive`
  (``.tar.gz`` / ``.tgz`` / ``.tar`` / ``.zip``, refusing members that would
  land outside the destination), :func:`find_dataset_root` (the folder of
  the archive or directory that has the layout, e.g. the single top-level
  ``NYUDv2/`` of the release) and :func:`prepare_data_root`, which builds
  the result in a temporary sibling of the output folder and moves it into
  place only when complete;
- the check of a prepared folder, :func:`check_data_root`: it indexes each
  split with the data set class itself (a subclass that records every
  missing file instead of stopping at the first one, see
  :func:`tolerant_dataset_class`), reads the image and every map of the
  checked samples with :class:`mmmtcp.datasets.LoadMultiTaskAnnotations`
  (the readers of :mod:`mmmtcp.datasets.formats`, which check value ranges
  and sizes), runs the data set's own value checks, prints a summary table
  and the first problems with their file names, and returns the exit code.
"""
import hashlib
import os
import os.path as osp
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

# this checkout's mmmtcp first, whichever one the environment has installed
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

#: Messages of a value check: (problems, warnings).
CheckMessages = Tuple[List[str], List[str]]
#: A value check of one task: ``(ann_info of the task, loaded map)`` ->
#: messages. Problems fail the check, warnings are only reported.
ValueCheck = Callable[[dict, np.ndarray], CheckMessages]

GUIDE = 'docs/en/dataset_prepare.md'
_SKIP_DIRS = ('__MACOSX', )


class LayoutError(RuntimeError):
    """The source holds no folder (or several) with the expected layout."""


# ---------------------------------------------------------------------------
# placement
# ---------------------------------------------------------------------------
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
    """``'zip'``, ``'tar'`` (any compression) or None, from the content."""
    if zipfile.is_zipfile(path):
        return 'zip'
    try:
        if tarfile.is_tarfile(path):
            return 'tar'
    except OSError:
        pass
    return None


def _inside(base: str, path: str) -> bool:
    base = osp.realpath(base)
    path = osp.realpath(path)
    return path == base or path.startswith(base + os.sep)


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


def _listing(folder: str, depth: int = 2, limit: int = 12) -> str:
    """A short listing of a folder (two levels) for error messages."""
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
                continue
            try:
                entries = sorted(os.scandir(path), key=lambda e: e.name)
            except OSError:
                continue
            below += [
                e.path for e in entries if e.is_dir()
                and not e.name.startswith('.') and e.name not in _SKIP_DIRS
            ]
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


def _output_taken(out_dir: str) -> bool:
    """Whether ``out_dir`` exists as anything but an empty folder."""
    if osp.islink(out_dir) or osp.isfile(out_dir):
        return True
    return osp.isdir(out_dir) and bool(os.listdir(out_dir))


def _install(new: str, out_dir: str) -> None:
    """Move ``new`` (same file system) to ``out_dir``, replacing what is
    there; the old content is removed only after the move succeeded."""
    parent = osp.dirname(out_dir)
    old = None
    if osp.islink(out_dir) or osp.isfile(out_dir):
        old = tempfile.mkdtemp(prefix=osp.basename(out_dir) + '.old-',
                               dir=parent)
        os.replace(out_dir, osp.join(old, 'data'))
    elif osp.isdir(out_dir):
        if os.listdir(out_dir):
            old = tempfile.mkdtemp(
                prefix=osp.basename(out_dir) + '.old-', dir=parent)
            os.replace(out_dir, osp.join(old, 'data'))
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
    ``overwrite``.

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
        FileExistsError: ``out_dir`` is taken and ``overwrite`` is False.
        LayoutError: ``source`` has no folder with the layout.
        ValueError: ``source`` is not an archive or overlaps ``out_dir``.
    """
    source = osp.abspath(source)
    out_dir = osp.abspath(out_dir)
    if not osp.exists(source):
        raise FileNotFoundError(f'{source} does not exist')
    if mode not in ('symlink', 'copy', 'move'):
        raise ValueError(f'mode must be symlink, copy or move, got {mode!r}')
    if _output_taken(out_dir) and not overwrite:
        raise FileExistsError(
            f'{out_dir} exists and is not empty; pass --overwrite to replace '
            f'it, or check it with --check {out_dir}')
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    prefix = osp.basename(out_dir) + '.tmp-'

    if osp.isfile(source):
        if archive_type(source) is None:
            raise ValueError(f'{source} is neither a tar (.tar, .tar.gz, '
                             '.tgz) nor a zip archive')
        print(f'Computing the SHA-256 of {source} ...', flush=True)
        print(f'SHA-256: {sha256sum(source)}  {osp.basename(source)}',
              flush=True)
        tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
        try:
            print(f'Extracting into {tmp} ...', flush=True)
            start = time.perf_counter()
            count = extract_archive(source, tmp)
            print(f'Extracted {count} members in '
                  f'{time.perf_counter() - start:.1f} s', flush=True)
            root = find_dataset_root(tmp, is_root, layout)
            if root == tmp:
                # the archive has no top-level folder: the folder itself,
                # with the permissions of a new folder (not mkdtemp's 0700)
                staged = tempfile.mkdtemp(prefix=prefix, dir=parent)
                os.replace(tmp, osp.join(staged, 'data'))
                tmp, root = staged, osp.join(staged, 'data')
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(root, 0o777 & ~umask)
            _install(root, out_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out_dir

    root = osp.abspath(find_dataset_root(source, is_root, layout))
    # out_dir itself may be a link to the release (replaced, not followed)
    real_out = osp.join(
        osp.realpath(osp.dirname(out_dir)), osp.basename(out_dir))
    real_root = osp.realpath(root)
    if (real_out == real_root or real_out.startswith(real_root + os.sep)
            or real_root.startswith(real_out + os.sep)):
        raise ValueError(f'The release folder {root} and the output '
                         f'{out_dir} overlap; choose another output or '
                         'check the folder in place with --check')
    if mode == 'symlink':
        tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
        try:
            link = osp.join(tmp, 'link')
            os.symlink(root, link, target_is_directory=True)
            _install(link, out_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f'Linked {out_dir} -> {root}')
    elif mode == 'copy' or os.stat(root).st_dev != os.stat(parent).st_dev:
        tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
        try:
            print(f'Copying {root} into {tmp} ...', flush=True)
            shutil.copytree(root, osp.join(tmp, 'data'), symlinks=True)
            _install(osp.join(tmp, 'data'), out_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if mode == 'move':
            shutil.rmtree(root)
        print(f'{"Moved" if mode == "move" else "Copied"} {root} to '
              f'{out_dir}')
    else:
        _install(root, out_dir)
        print(f'Moved {root} to {out_dir}')
    return out_dir


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------
def tolerant_dataset_class(dataset_cls: type) -> type:
    """A subclass of ``dataset_cls`` that indexes a split despite missing
    files: each one is recorded in ``self.missing`` as ``(sample_id,
    what, path, message)`` (``path`` the first candidate file) and the
    candidate path is used, so every missing file is found in one pass.

    Args:
        dataset_cls (type): A :class:`MultiTaskBaseDataset` subclass.

    Returns:
        type: The subclass (not registered), named like ``dataset_cls``.
    """

    class Tolerant(dataset_cls):

        def __init__(self, *args, **kwargs) -> None:
            self.missing: List[Tuple[str, str, str, str]] = []
            super().__init__(*args, **kwargs)

        def _find(self, folder: str, files: set, sample_id: str,
                  suffixes: Sequence[str], what: str) -> str:
            try:
                return super()._find(folder, files, sample_id, suffixes,
                                     what)
            except FileNotFoundError:
                tried = ', '.join(
                    osp.join(folder, sample_id + s) for s in suffixes)
                path = osp.join(folder, sample_id + suffixes[0])
                self.missing.append(
                    (sample_id, what, path,
                     f'missing {what} file (looked for {tried})'))
                return path

    Tolerant.__name__ = Tolerant.__qualname__ = dataset_cls.__name__
    return Tolerant


@dataclass
class DatasetSpec:
    """What :func:`check_data_root` needs to know about a data set.

    Args:
        name (str): Display name, e.g. ``'NYUD-v2'``.
        dataset_cls (type): The data set class (used as is to confirm a
            clean folder loads).
        indexer_cls (type): The class indexing the splits, usually
            ``tolerant_dataset_class(dataset_cls)``.
        columns (Sequence[str]): Table columns: ``'image'`` then the tasks.
        expected (Dict[str, int]): Number of ids of each split in the
            release.
        what_to_column (Dict[str, str]): Column of each ``what`` of the
            data set's missing-file messages (its first words).
        value_checks (Dict[str, ValueCheck]): Extra checks per task.
        tool (str): The tool's path, for messages.
        dataset_kwargs (dict): Arguments of the data set class.
        confirm (bool): When a split has no problem, build
            ``dataset_cls`` itself on it as training will. Defaults to
            True.
        split_notes (Callable, optional): ``indexer -> [(path, message)]``,
            warnings about an indexed split. Defaults to None.
    """
    name: str
    dataset_cls: type
    indexer_cls: type
    columns: Sequence[str]
    expected: Dict[str, int]
    what_to_column: Dict[str, str]
    value_checks: Dict[str, ValueCheck] = field(default_factory=dict)
    tool: str = ''
    dataset_kwargs: dict = field(default_factory=dict)
    confirm: bool = True
    split_notes: Optional[Callable[[object], List[Tuple[str, str]]]] = None


@dataclass
class Issue:
    """A problem or warning of the check: split, column, file, message."""
    split: str
    column: str
    path: str
    message: str

    def __str__(self) -> str:
        # the readers' messages already name their file
        named = not self.path or self.path in self.message
        where = '' if named else f' {self.path}:'
        return f'[{self.split}/{self.column}]{where} {self.message}'


def check_sample(info: dict, value_checks: Dict[str, ValueCheck]) -> dict:
    """Read the image and every map of one indexed sample.

    Each task is loaded on its own with
    :class:`~mmmtcp.datasets.LoadMultiTaskAnnotations` (the training
    pipeline's reader, which checks the value range of its format and the
    size against the image), then ``value_checks[task]`` looks at the file
    further. Files that do not exist were reported by the indexing and are
    skipped. Human parts are read even where the data set's cache says the
    image has no person, to check the file is readable.

    Args:
        info (dict): A data info of the data set (``img_path``,
            ``ann_info``, ``sample_id``).
        value_checks (Dict[str, ValueCheck]): Extra checks per task.

    Returns:
        dict: ``sample_id``, ``shape`` (image ``(h, w)`` or None),
        ``problems`` and ``warnings`` (lists of ``(column, path,
        message)``).
    """
    import cv2

    from mmmtcp.datasets.transforms import LoadMultiTaskAnnotations
    from mmmtcp.utils.tasks import get_task

    out = dict(
        sample_id=info.get('sample_id'), shape=None, problems=[],
        warnings=[])
    img_path = info['img_path']
    if not osp.isfile(img_path):
        return out
    img = cv2.imread(img_path, cv2.IMREAD_COLOR)
    if img is None:
        out['problems'].append(
            ('image', img_path, 'cannot be decoded as an image'))
        return out
    shape = tuple(img.shape[:2])
    out['shape'] = shape
    for task, ann in info['ann_info'].items():
        ann = dict(ann)
        paths = [ann['path']] + ([ann['label_map_path']]
                                 if ann.get('label_map_path') else [])
        if not all(osp.isfile(p) for p in paths):
            continue  # reported as missing by the indexing
        ann.pop('has_human_parts', None)
        results = dict(
            img_path=img_path, ori_shape=shape, tasks=[task],
            ann_info={task: ann}, seg_fields=[])
        try:
            LoadMultiTaskAnnotations(tasks=[task]).transform(results)
            gt = results[get_task(task).gt_key]
        except Exception as e:  # noqa: BLE001 - reported with the file
            out['problems'].append((task, ann['path'], str(e)))
            continue
        check = value_checks.get(task)
        if check is None:
            continue
        try:
            problems, warnings = check(ann, gt)
        except Exception as e:  # noqa: BLE001 - reported with the file
            problems, warnings = [f'{type(e).__name__}: {e}'], []
        out['problems'] += [(task, ann['path'], m) for m in problems]
        out['warnings'] += [(task, ann['path'], m) for m in warnings]
    return out


def check_normals_file(ann: dict, gt: np.ndarray) -> CheckMessages:
    """Value check of a normals map: the stored vectors are unit vectors.

    The file is decoded as the reader does (``2 * png / M - 1`` for PNGs,
    the float vectors of ``.npy`` files) but before re-normalization. Among
    the vectors the reader keeps (length > 0.5; shorter ones, e.g. the
    ``(128, 128, 128)`` of an invalid pixel, are invalid), more than 5%
    whose length is off by more than 0.1 is a problem (wrong encoding,
    e.g. black pixels ``(0, 0, 0)`` decode to ``(-1, -1, -1)``), more than
    0.5% a warning.

    Args:
        ann (dict): The task's ``ann_info`` (``path``).
        gt (np.ndarray): The loaded map (unused).

    Returns:
        tuple[list[str], list[str]]: Problems and warnings.
    """
    from mmmtcp.datasets.formats import (decode_normals_png, imread_unchanged,
                                         load_npy)
    path = ann['path']
    if path.endswith('.npy'):
        raw = load_npy(path).astype(np.float32)
        raw[~np.isfinite(raw)] = 0.
    else:
        raw = decode_normals_png(imread_unchanged(path)[..., :3])
    norm = np.linalg.norm(raw, axis=-1)
    valid = norm > 0.5
    if not valid.any():
        return [], ['holds no valid normal (every vector is shorter than '
                    '0.5, which the loader treats as invalid)']
    off = valid & (np.abs(norm - 1.) > 0.1)
    frac = float(off.sum()) / float(valid.sum())
    if frac <= 0.005:
        return [], []
    msg = (f'{frac:.1%} of the valid normals decode to vectors of length '
           f'{norm[off].min():.2f}..{norm[off].max():.2f} instead of 1; '
           'expected rgb = (n + 1) * 255 / 2 (8-bit PNG) or unit float '
           'vectors (.npy)')
    return ([msg], []) if frac > 0.05 else ([], [msg])


def _check_one(args: Tuple[dict, Dict[str, ValueCheck]]) -> dict:
    return check_sample(*args)


def _subset(n: int, max_samples: Optional[int]) -> List[int]:
    """All indices, or ``max_samples`` evenly spread over the split."""
    if max_samples is None or max_samples >= n:
        return list(range(n))
    if max_samples <= 0:
        return []
    return sorted(set(np.linspace(0, n - 1, max_samples).round().astype(
        int).tolist()))


def _cell(counts: Counter) -> str:
    parts = [f'{counts[k]} {k}' for k in ('missing', 'bad') if counts[k]]
    return ', '.join(parts) if parts else 'ok'


def _table(header: Sequence[str], rows: List[Sequence[str]]) -> str:
    widths = [
        max(len(str(r[i])) for r in [header] + rows)
        for i in range(len(header))
    ]
    fmt = '  '.join('{:<%d}' % w for w in widths)
    lines = [fmt.format(*header), fmt.format(*('-' * w for w in widths))]
    lines += [fmt.format(*map(str, r)) for r in rows]
    return '\n'.join(line.rstrip() for line in lines)


def check_data_root(spec: DatasetSpec,
                    data_root: str,
                    splits: Sequence[str] = ('train', 'val'),
                    max_samples: Optional[int] = None,
                    workers: int = 0,
                    show: int = 10) -> int:
    """Check a prepared folder and print a summary; 0 when it is usable.

    For each split: the split file exists and lists ids; every listed id
    has its image and the map of every task (all missing files are
    listed); the image and maps of every sample (or ``max_samples`` spread
    over the split) are read with the data set's readers, which check value
    ranges and sizes, and with ``spec.value_checks``. A split count that
    differs from the release is a warning; when no problem was found the
    data set class itself indexes each split, as training will.

    Args:
        spec (DatasetSpec): The data set.
        data_root (str): The folder to check.
        splits (Sequence[str]): Splits to check. Defaults to train and val.
        max_samples (int, optional): Samples read per split. Defaults to
            None (all).
        workers (int): Processes reading samples (0: this one). Defaults
            to 0.
        show (int): Problems and warnings listed. Defaults to 10.

    Returns:
        int: 0 without problems, 1 otherwise.
    """
    start = time.perf_counter()
    problems: List[Issue] = []
    warnings: List[Issue] = []
    rows = []
    sizes: Dict[str, Counter] = {}
    print(f'Checking {spec.name} in {data_root}'
          + ('' if max_samples is None else
             f' (reading at most {max_samples} samples per split)'),
          flush=True)
    if not osp.isdir(data_root):
        problems.append(
            Issue('-', 'data_root', data_root,
                  f'does not exist; prepare it with `python {spec.tool} '
                  f'ARCHIVE -o {data_root}` (see {GUIDE})'))
        splits = ()
    for split in splits:
        expected = spec.expected.get(split)
        try:
            ds = spec.indexer_cls(
                data_root=data_root,
                split=split,
                pipeline=[],
                serialize_data=False,
                **spec.dataset_kwargs)
        except Exception as e:  # noqa: BLE001 - reported, next split
            problems.append(Issue(split, 'split', '', str(e)))
            rows.append([split, '-', expected or '-', 0] +
                        ['-'] * len(spec.columns) + ['FAIL'])
            continue
        split_problems: List[Issue] = []
        counts = {c: Counter() for c in spec.columns}
        for sample_id, what, path, message in ds.missing:
            column = spec.what_to_column.get(what.split(' (')[0], 'image')
            counts[column]['missing'] += 1
            split_problems.append(Issue(split, column, path, message))
        with open(ds.ann_file) as f:
            listed = [line.strip() for line in f if line.strip()]
        dup = [k for k, v in Counter(listed).items() if v > 1]
        if dup:
            warnings.append(
                Issue(split, 'split', ds.ann_file,
                      f'{len(dup)} ids listed more than once, e.g. '
                      f'{dup[:3]}'))
        if spec.split_notes is not None:
            warnings += [
                Issue(split, 'split', path, message)
                for path, message in spec.split_notes(ds)
            ]
        if expected is not None and len(listed) != expected:
            warnings.append(
                Issue(split, 'split', ds.ann_file,
                      f'lists {len(listed)} ids; the release has '
                      f'{expected}'))
        indices = _subset(len(ds), max_samples)
        jobs = [(ds.get_data_info(i), spec.value_checks) for i in indices]
        if workers > 0 and len(jobs) > 1:
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_check_one, jobs, chunksize=8))
        else:
            results = [_check_one(job) for job in jobs]
        shapes = Counter()
        for res in results:
            if res['shape'] is not None:
                shapes[res['shape']] += 1
            for column, path, message in res['problems']:
                counts[column if column in counts else 'image']['bad'] += 1
                split_problems.append(Issue(split, column, path, message))
            warnings += [Issue(split, c, p, m) for c, p, m in res['warnings']]
        sizes[split] = shapes
        if spec.confirm and not split_problems:
            try:  # the class training uses, unchanged
                spec.dataset_cls(
                    data_root=data_root,
                    split=split,
                    pipeline=[],
                    **spec.dataset_kwargs)
            except Exception as e:  # noqa: BLE001 - reported
                split_problems.append(Issue(split, 'split', '', str(e)))
        problems += split_problems
        rows.append([
            split,
            len(listed),
            expected if expected is not None else '-',
            len(indices),
        ] + [_cell(counts[c]) for c in spec.columns] +
                    ['FAIL' if split_problems else 'ok'])

    if rows:
        print()
        print(
            _table(['split', 'ids', 'release', 'read'] + list(spec.columns) +
                   ['status'], rows))
    for split, shapes in sizes.items():
        if shapes:
            shown = ', '.join(f'{h}x{w} ({n})'
                              for (h, w), n in shapes.most_common(4))
            more = ', ...' if len(shapes) > 4 else ''
            print(f'{split}: image sizes (h x w): {shown}{more}')
    for title, issues in (('Warnings', warnings), ('Problems', problems)):
        if not issues:
            continue
        print(f'\n{title} ({len(issues)}, first {min(show, len(issues))}):')
        for issue in issues[:show]:
            print(f'  {issue}')
        if len(issues) > show:
            print(f'  ... and {len(issues) - show} more')
    elapsed = time.perf_counter() - start
    if problems:
        print(f'\nFAILED: {len(problems)} problem(s) in {data_root} '
              f'({elapsed:.1f} s). The expected layout and formats are in '
              f'{GUIDE}.')
        return 1
    print(f'\nOK: {data_root} is a usable {spec.name} data_root'
          f' ({len(warnings)} warning(s), {elapsed:.1f} s).')
    return 0


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
def add_arguments(parser, default_out: str) -> None:
    """The arguments both tools share.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        default_out (str): Default output folder (the configs'
            ``data_root``).
    """
    parser.add_argument(
        'source',
        nargs='?',
        help='release archive (.tar.gz, .tgz, .tar, .zip) or extracted '
        'folder')
    parser.add_argument(
        '-o',
        '--out-dir',
        default=default_out,
        help=f'destination data_root (default: {default_out})')
    parser.add_argument(
        '--mode',
        choices=('symlink', 'copy', 'move'),
        default='symlink',
        help='how an extracted folder is put at --out-dir (default: '
        'symlink; archives are always extracted)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an existing non-empty --out-dir')
    parser.add_argument(
        '--check',
        metavar='DATA_ROOT',
        help='only check a prepared folder (no SOURCE)')
    parser.add_argument(
        '--no-check',
        action='store_true',
        help='do not check the result after preparing it')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=['train', 'val'],
        help='splits to check (default: train val)')
    parser.add_argument(
        '--max-samples',
        type=int,
        default=None,
        metavar='N',
        help='read the maps of at most N samples per split, spread over '
        'it (default: all); every listed file is still looked for')
    parser.add_argument(
        '--workers',
        type=int,
        default=0,
        metavar='N',
        help='processes reading samples (default: 0, this one)')
    parser.add_argument(
        '--show',
        type=int,
        default=10,
        metavar='N',
        help='problems and warnings listed (default: 10)')


def run(parser, args, spec: DatasetSpec, is_root: Callable[[str], bool],
        layout: str) -> int:
    """Prepare (``SOURCE``) and/or check (``--check``) as the arguments say.

    Args:
        parser (argparse.ArgumentParser): For usage errors.
        args (argparse.Namespace): Parsed arguments of
            :func:`add_arguments`.
        spec (DatasetSpec): The data set.
        is_root (Callable[[str], bool]): Whether a folder has the layout.
        layout (str): The layout, for messages.

    Returns:
        int: The exit code (0 success, 1 problems).
    """
    if args.max_samples is not None and args.max_samples < 0:
        parser.error('--max-samples must be >= 0')
    if args.workers < 0:
        parser.error('--workers must be >= 0')
    check_kwargs = dict(
        splits=args.splits,
        max_samples=args.max_samples,
        workers=args.workers,
        show=args.show)
    if args.check is not None:
        if args.source is not None:
            parser.error('give either SOURCE (to prepare) or --check '
                         'DATA_ROOT, not both')
        return check_data_root(spec, args.check, **check_kwargs)
    if args.source is None:
        parser.error('give the release archive or folder (SOURCE), or '
                     '--check DATA_ROOT')
    try:
        out_dir = prepare_data_root(
            args.source,
            args.out_dir,
            is_root,
            layout,
            mode=args.mode,
            overwrite=args.overwrite)
    except (OSError, LayoutError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'{spec.name} is at {out_dir}', flush=True)
    if args.no_check:
        return 0
    print()
    return check_data_root(spec, out_dir, **check_kwargs)
