"""The check of a prepared folder: is it a usable ``data_root``?

:func:`check_data_root` checks each split in turn (:func:`check_split`):

1. the split is indexed with the data set's own code, through a subclass
   that records every missing file (:class:`check_spec.DatasetSpec`'s
   ``indexer_cls``);
2. the split file is read for duplicate ids and its count compared with
   the release's (warnings);
3. the image and every map of each sample (or of ``max_samples`` spread
   over the split) are read and checked (:func:`sample_check.check_sample`),
   in this process or a pool of ``workers``;
4. a split without problems is loaded once more by the data set class
   itself, as training will (``spec.confirm``).

The report (:mod:`check_report`) lists the first problems with their file
names; the return value is the tool's exit code.
"""
import os.path as osp
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from check_report import GUIDE, Issue, cell, print_report, print_verdict
from check_spec import DatasetSpec
from sample_check import check_sample_job


@dataclass
class SplitReport:
    """What the check found in one split.

    Args:
        split (str): The split.
        row (list): Its row of the summary table.
        problems (list[Issue]): Problems, in the order found.
        warnings (list[Issue]): Warnings, in the order found.
        shapes (Counter, optional): Image sizes ``(h, w)`` of the samples
            read; None when the split could not be indexed.
    """
    split: str
    row: list
    problems: List[Issue] = field(default_factory=list)
    warnings: List[Issue] = field(default_factory=list)
    shapes: Optional[Counter] = None


def sample_subset(n: int, max_samples: Optional[int]) -> List[int]:
    """All indices, or ``max_samples`` evenly spread over the split.

    Args:
        n (int): Samples of the split.
        max_samples (int, optional): Samples wanted; None for all.

    Returns:
        list[int]: Sorted sample indices.
    """
    if max_samples is None or max_samples >= n:
        return list(range(n))
    if max_samples <= 0:
        return []
    return sorted(set(np.linspace(0, n - 1, max_samples).round().astype(
        int).tolist()))


def _missing_files(spec: DatasetSpec, split: str, ds: object,
                   counts: Dict[str, Counter]) -> List[Issue]:
    """The files the indexing found missing, counted in their column."""
    problems = []
    for sample_id, what, path, message in ds.missing:
        column = spec.what_to_column.get(what.split(' (')[0], 'image')
        counts[column]['missing'] += 1
        problems.append(Issue(split, column, path, message))
    return problems


def _split_file_warnings(spec: DatasetSpec, split: str, ds: object,
                         listed: List[str]) -> List[Issue]:
    """Duplicate ids, the data set's notes and a count unlike the release's.
    """
    warnings = []
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
    expected = spec.expected.get(split)
    if expected is not None and len(listed) != expected:
        warnings.append(
            Issue(split, 'split', ds.ann_file,
                  f'lists {len(listed)} ids; the release has '
                  f'{expected}'))
    return warnings


def _read_samples(spec: DatasetSpec, ds: object, indices: List[int],
                  workers: int) -> List[dict]:
    """:func:`sample_check.check_sample` of the samples ``indices``."""
    jobs = [(ds.get_data_info(i), spec.value_checks) for i in indices]
    if workers > 0 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(check_sample_job, jobs, chunksize=8))
    return [check_sample_job(job) for job in jobs]


def _confirm(spec: DatasetSpec, data_root: str, split: str) -> List[Issue]:
    """Build the data set class training uses, unchanged, on the split."""
    try:
        spec.dataset_cls(
            data_root=data_root,
            split=split,
            pipeline=[],
            **spec.dataset_kwargs)
    except Exception as e:  # noqa: BLE001 - reported
        return [Issue(split, 'split', '', str(e))]
    return []


def check_split(spec: DatasetSpec, data_root: str, split: str,
                max_samples: Optional[int], workers: int) -> SplitReport:
    """Check one split of a prepared folder.

    Args:
        spec (DatasetSpec): The data set.
        data_root (str): The folder to check.
        split (str): The split.
        max_samples (int, optional): Samples read; None for all.
        workers (int): Processes reading samples (0: this one).

    Returns:
        SplitReport: Its table row, problems, warnings and image sizes.
    """
    expected = spec.expected.get(split)
    try:
        ds = spec.indexer_cls(
            data_root=data_root,
            split=split,
            pipeline=[],
            serialize_data=False,
            **spec.dataset_kwargs)
    except Exception as e:  # noqa: BLE001 - reported, next split
        return SplitReport(
            split,
            [split, '-', expected or '-', 0] + ['-'] * len(spec.columns) +
            ['FAIL'],
            problems=[Issue(split, 'split', '', str(e))])
    counts = {c: Counter() for c in spec.columns}
    report = SplitReport(split, [], shapes=Counter())
    report.problems = _missing_files(spec, split, ds, counts)
    with open(ds.ann_file) as f:
        listed = [line.strip() for line in f if line.strip()]
    report.warnings = _split_file_warnings(spec, split, ds, listed)
    indices = sample_subset(len(ds), max_samples)
    for res in _read_samples(spec, ds, indices, workers):
        if res['shape'] is not None:
            report.shapes[res['shape']] += 1
        for column, path, message in res['problems']:
            counts[column if column in counts else 'image']['bad'] += 1
            report.problems.append(Issue(split, column, path, message))
        report.warnings += [
            Issue(split, c, p, m) for c, p, m in res['warnings']
        ]
    if spec.confirm and not report.problems:
        report.problems += _confirm(spec, data_root, split)
    report.row = [
        split,
        len(listed),
        expected if expected is not None else '-',
        len(indices),
    ] + [cell(counts[c]) for c in spec.columns] + [
        'FAIL' if report.problems else 'ok'
    ]
    return report


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
    print(f'Checking {spec.name} in {data_root}'
          + ('' if max_samples is None else
             f' (reading at most {max_samples} samples per split)'),
          flush=True)
    problems: List[Issue] = []
    if not osp.isdir(data_root):
        problems.append(
            Issue('-', 'data_root', data_root,
                  f'does not exist; prepare it with `python {spec.tool} '
                  f'ARCHIVE -o {data_root}` (see {GUIDE})'))
        splits = ()
    reports = [
        check_split(spec, data_root, split, max_samples, workers)
        for split in splits
    ]
    warnings = [w for r in reports for w in r.warnings]
    problems += [p for r in reports for p in r.problems]
    sizes = {r.split: r.shapes for r in reports if r.shapes is not None}
    print_report(spec.columns, [r.row for r in reports], sizes, warnings,
                 problems, show)
    return print_verdict(spec.name, data_root, problems, warnings,
                         time.perf_counter() - start)
