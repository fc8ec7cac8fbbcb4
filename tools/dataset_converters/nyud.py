"""Prepare and check NYUD-v2 for multi-task dense prediction.

Puts the community multi-task release of NYUD-v2 (795 train / 654 val) at
``data/NYUDv2`` in the layout :class:`mmmtcp.datasets.NYUDv2Dataset` reads,
then checks it::

    data/NYUDv2/
        images/<id>.png          (MTL-PyTorch release: .jpg)
        segmentation/<id>.png    0 = void, 1..40 the classes
        depth/<id>.npy           float metres, 0 = invalid
        normals/<id>.png         rgb = (n + 1) * 255 / 2  (MTL-PyTorch: .npy)
        edge/<id>.png            0 / 255                  (MTL-PyTorch: .npy)
        gt_sets/train.txt, gt_sets/val.txt

Both releases (ATRC/InvPT ``NYUDv2.tar.gz``, MTL-PyTorch ``NYUD_MT.tgz``)
already have this layout under one top-level folder: an archive is hashed
(its SHA-256 is printed, to compare with your source), extracted into a
temporary sibling of the output and moved into place when complete; an
extracted folder is linked (default), copied or moved. See
``docs/en/dataset_prepare.md``.

Examples::

    # from the archive
    python tools/dataset_converters/nyud.py NYUDv2.tar.gz -o data/NYUDv2
    # from an extracted copy elsewhere (symlink; --mode copy / move)
    python tools/dataset_converters/nyud.py /datasets/NYUDv2
    # check a prepared folder: every file present, sizes, value ranges
    python tools/dataset_converters/nyud.py --check data/NYUDv2
    python tools/dataset_converters/nyud.py --check data/NYUDv2 \\
        --max-samples 100 --workers 8

The check exits with 1 and lists the first problems (with file names) when
the folder is not usable; warnings (e.g. split sizes that differ from the
release) do not fail it.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import repo_checkout  # noqa: E402,F401 - this checkout's mmmtcp first
from check_spec import DatasetSpec, tolerant_dataset_class  # noqa: E402
from converter_cli import add_arguments, run  # noqa: E402
from value_checks import CheckMessages, check_normals_file  # noqa: E402

from mmmtcp.datasets import NYUDv2Dataset  # noqa: E402
from mmmtcp.functional.formats import (  # noqa: E402
    DEFAULT_MAX_DEPTH, load_npy, read_index_png)

DEFAULT_OUT = 'data/NYUDv2'
#: Number of ids of each split in the release.
NYUD_SPLIT_SIZES = dict(train=795, val=654)
LAYOUT = ('images/, segmentation/, depth/, normals/, edge/, '
          'gt_sets/{train,val}.txt')


def is_nyud_root(path: str) -> bool:
    """Whether ``path`` looks like the NYUD-v2 release folder."""
    return (osp.isdir(osp.join(path, 'gt_sets'))
            and osp.isdir(osp.join(path, 'images')))


def check_depth(ann: dict, gt: np.ndarray) -> CheckMessages:
    """Depth beyond the reader's checks (metres below ``max_depth``).

    Non-finite or negative stored values (read as invalid) and maps without
    any valid depth are warnings.

    Args:
        ann (dict): The task's ``ann_info`` (``path``).
        gt (np.ndarray): The depth the reader returned (metres).

    Returns:
        tuple[list[str], list[str]]: Problems and warnings.
    """
    raw = np.squeeze(load_npy(ann['path']))
    warnings = []
    if np.issubdtype(raw.dtype, np.floating):
        bad = ~np.isfinite(raw)
        if bad.any():
            warnings.append(f'{int(bad.sum())} non-finite depth values '
                            '(read as invalid)')
        finite = raw[~bad]
    else:
        finite = raw
    if (finite < 0).any():
        warnings.append(f'{int((finite < 0).sum())} negative depth values '
                        '(read as invalid)')
    if not (gt > 0).any():
        warnings.append('no valid depth (every value is <= 0)')
    return [], warnings


def check_edge(ann: dict, gt: np.ndarray) -> CheckMessages:
    """Boundary maps hold two values: 0/255 (0/65535) or 0/1 (``.npy``:
    0/1). Other values are a warning: the loader thresholds at half the
    range.

    Args:
        ann (dict): The task's ``ann_info`` (``path``).
        gt (np.ndarray): The 0/1 map the reader returned.

    Returns:
        tuple[list[str], list[str]]: Problems and warnings.
    """
    path = ann['path']
    if path.endswith('.npy'):
        raw = np.squeeze(load_npy(path))
        allowed = [{0, 1}]
        expected = '0/1'
    else:
        raw = read_index_png(path)
        full = 255 if raw.dtype == np.uint8 else 65535
        allowed = [{0, 1}, {0, full}]
        expected = f'0/{full} or 0/1'
    values = np.unique(raw)
    warnings = []
    if not any(set(values.tolist()) <= a for a in allowed):
        shown = ', '.join(f'{v:g}' for v in values[:8])
        more = ', ...' if len(values) > 8 else ''
        warnings.append(f'holds the values [{shown}{more}], not only '
                        f'{expected}; the loader counts values >= half the '
                        'range as boundary')
    return [], warnings


def nyud_spec(
        depth_scale: float = 1.0,
        max_depth: Optional[float] = DEFAULT_MAX_DEPTH) -> DatasetSpec:
    """The check's description of NYUD-v2.

    Args:
        depth_scale (float): ``depth_scale`` of the data set (metres per
            stored unit). Defaults to 1.0.
        max_depth (float, optional): ``max_depth`` of the data set.
            Defaults to :data:`~mmmtcp.functional.formats.DEFAULT_MAX_DEPTH`.

    Returns:
        DatasetSpec: The spec of :func:`data_root_check.check_data_root`.
    """
    return DatasetSpec(
        name='NYUD-v2',
        dataset_cls=NYUDv2Dataset,
        indexer_cls=tolerant_dataset_class(NYUDv2Dataset),
        columns=('image', 'semseg', 'depth', 'normals', 'edge'),
        expected=dict(NYUD_SPLIT_SIZES),
        what_to_column=dict(
            image='image',
            semseg='semseg',
            depth='depth',
            normals='normals',
            edge='edge'),
        value_checks=dict(
            depth=check_depth, normals=check_normals_file, edge=check_edge),
        tool='tools/dataset_converters/nyud.py',
        dataset_kwargs=dict(depth_scale=depth_scale, max_depth=max_depth))


def parse_args(argv: Optional[List[str]] = None):
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments. Defaults to ``sys.argv``.

    Returns:
        tuple: The parser and the parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog='Guide: docs/en/dataset_prepare.md')
    add_arguments(parser, DEFAULT_OUT)
    parser.add_argument(
        '--depth-scale',
        type=float,
        default=1.0,
        help='metres per stored depth unit, as the dataset config\'s '
        'depth_scale (default: 1, the releases store metres; 0.001 for '
        'millimetres)')
    parser.add_argument(
        '--max-depth',
        type=float,
        default=DEFAULT_MAX_DEPTH,
        help='largest plausible depth in metres (default: '
        f'{DEFAULT_MAX_DEPTH:g})')
    return parser, parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the tool.

    Args:
        argv (list[str], optional): Arguments. Defaults to ``sys.argv``.

    Returns:
        int: The exit code: 0 success, 1 problems.
    """
    parser, args = parse_args(argv)
    spec = nyud_spec(depth_scale=args.depth_scale, max_depth=args.max_depth)
    return run(parser, args, spec, is_nyud_root, LAYOUT)


if __name__ == '__main__':
    sys.exit(main())
