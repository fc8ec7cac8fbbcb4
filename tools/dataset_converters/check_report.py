"""The report of the check of a prepared folder.

The check collects :class:`Issue` s (problems fail it, warnings do not)
and a row per split; :func:`print_report` prints the summary table, the
image sizes met and the first issues with their file names, and
:func:`print_verdict` the last line and the exit code.
"""
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence

#: The preparation guide, named in the messages.
GUIDE = 'docs/en/dataset_prepare.md'


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


def cell(counts: Counter) -> str:
    """A table cell: the counts of missing and bad files, or ``'ok'``.

    Args:
        counts (Counter): Counts of ``'missing'`` and ``'bad'``.

    Returns:
        str: E.g. ``'2 missing, 1 bad'``.
    """
    parts = [f'{counts[k]} {k}' for k in ('missing', 'bad') if counts[k]]
    return ', '.join(parts) if parts else 'ok'


def format_table(header: Sequence[str], rows: List[Sequence]) -> str:
    """A plain-text table with left-aligned columns.

    Args:
        header (Sequence[str]): Column titles.
        rows (list[Sequence]): The rows (any values, printed with ``str``).

    Returns:
        str: The header, a rule and the rows, one per line.
    """
    widths = [
        max(len(str(r[i])) for r in [header] + rows)
        for i in range(len(header))
    ]
    fmt = '  '.join('{:<%d}' % w for w in widths)
    lines = [fmt.format(*header), fmt.format(*('-' * w for w in widths))]
    lines += [fmt.format(*map(str, r)) for r in rows]
    return '\n'.join(line.rstrip() for line in lines)


def _print_image_sizes(sizes: Dict[str, Counter]) -> None:
    """The four most common image sizes of each split."""
    for split, shapes in sizes.items():
        if shapes:
            shown = ', '.join(f'{h}x{w} ({n})'
                              for (h, w), n in shapes.most_common(4))
            more = ', ...' if len(shapes) > 4 else ''
            print(f'{split}: image sizes (h x w): {shown}{more}')


def _print_issues(title: str, issues: List[Issue], show: int) -> None:
    """The first ``show`` issues under ``title`` (nothing if none)."""
    if not issues:
        return
    print(f'\n{title} ({len(issues)}, first {min(show, len(issues))}):')
    for issue in issues[:show]:
        print(f'  {issue}')
    if len(issues) > show:
        print(f'  ... and {len(issues) - show} more')


def print_report(columns: Sequence[str], rows: List[Sequence],
                 sizes: Dict[str, Counter], warnings: List[Issue],
                 problems: List[Issue], show: int) -> None:
    """Print the summary table, the image sizes and the first issues.

    Args:
        columns (Sequence[str]): The data set's columns (image, tasks).
        rows (list[Sequence]): One row per checked split: split, ids,
            release, read, a cell per column, status.
        sizes (Dict[str, Counter]): Image sizes ``(h, w)`` of each split.
        warnings (list[Issue]): Warnings, in the order found.
        problems (list[Issue]): Problems, in the order found.
        show (int): Warnings and problems listed at most.
    """
    if rows:
        print()
        print(
            format_table(['split', 'ids', 'release', 'read'] + list(columns) +
                         ['status'], rows))
    _print_image_sizes(sizes)
    _print_issues('Warnings', warnings, show)
    _print_issues('Problems', problems, show)


def print_verdict(name: str, data_root: str, problems: List[Issue],
                  warnings: List[Issue], elapsed: float) -> int:
    """Print the last line of the check.

    Args:
        name (str): The data set's display name.
        data_root (str): The checked folder.
        problems (list[Issue]): Problems found.
        warnings (list[Issue]): Warnings found.
        elapsed (float): Seconds the check took.

    Returns:
        int: The exit code: 0 without problems, 1 otherwise.
    """
    if problems:
        print(f'\nFAILED: {len(problems)} problem(s) in {data_root} '
              f'({elapsed:.1f} s). The expected layout and formats are in '
              f'{GUIDE}.')
        return 1
    print(f'\nOK: {data_root} is a usable {name} data_root'
          f' ({len(warnings)} warning(s), {elapsed:.1f} s).')
    return 0
