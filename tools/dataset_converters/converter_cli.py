"""The command line the converters share: prepare a release, check a folder.

:func:`add_arguments` declares the options of both converters and
:func:`run` does what they ask: ``SOURCE`` puts a release at ``--out-dir``
(:func:`release_placement.prepare_data_root`) and checks the result,
``--check DATA_ROOT`` only checks (:func:`data_root_check.check_data_root`).
"""
import argparse
import sys
from typing import Callable

from check_spec import DatasetSpec
from data_root_check import check_data_root
from release_placement import MODES, prepare_data_root
from release_root import LayoutError


def _add_prepare_arguments(parser: argparse.ArgumentParser,
                           default_out: str) -> None:
    """``SOURCE`` and the options of the preparation."""
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
        choices=MODES,
        default='symlink',
        help='how an extracted folder is put at --out-dir (default: '
        'symlink; archives are always extracted)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an existing non-empty --out-dir')


def _add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """``--check`` and the options of the check."""
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


def add_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """The arguments both tools share.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        default_out (str): Default output folder (the configs'
            ``data_root``).
    """
    _add_prepare_arguments(parser, default_out)
    _add_check_arguments(parser)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace,
        spec: DatasetSpec, is_root: Callable[[str], bool],
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
