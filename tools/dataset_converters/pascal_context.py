"""Prepare and check PASCAL-Context for multi-task dense prediction.

Puts the community multi-task release of PASCAL-Context (4,998 train /
5,105 val) at ``data/PASCALContext`` in the layout
:class:`mmmtcp.datasets.PascalContextMTDataset` reads, then checks it::

    data/PASCALContext/
        JPEGImages/<id>.jpg
        semseg/VOC12/<id>.png, semseg/pascal-context/<id>.png  0..20, 255
        human_parts/<id>.mat             Pascal-Part ``anno`` struct
        sal_distill/<id>.png             0..255, foreground > 127
        normals_distill/<id>.png         rgb = (n + 1) * 255 / 2
        pascal-context/trainval/<id>.mat ``LabelMap`` (boundaries, normals
                                         validity)
        ImageSets/Context/train.txt, ImageSets/Context/val.txt
        ImageSets/Parts/train.txt, val.txt   person/part cache (optional)

Both releases (ATRC/InvPT ``PASCALContext.tar.gz``, MTL-PyTorch
``PASCAL_MT.tgz``) already have this layout under one top-level folder: an
archive is hashed (its SHA-256 is printed, to compare with your source),
extracted into a temporary sibling of the output and moved into place when
complete; an extracted folder is linked (default), copied or moved. See
``docs/en/dataset_prepare.md``.

Examples::

    # from the archive
    python tools/dataset_converters/pascal_context.py PASCALContext.tar.gz \\
        -o data/PASCALContext
    # check a prepared folder: every file present, sizes, value ranges
    python tools/dataset_converters/pascal_context.py \\
        --check data/PASCALContext --workers 8
    python tools/dataset_converters/pascal_context.py \\
        --check data/PASCALContext --max-samples 200

The check exits with 1 and lists the first problems (with file names) when
the folder is not usable; warnings (e.g. a missing person/part cache, which
the data set builds on first use) do not fail it. The check writes nothing.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import repo_checkout  # noqa: E402,F401 - this checkout's mmmtcp first
from check_spec import DatasetSpec, tolerant_dataset_class  # noqa: E402
from converter_cli import add_arguments, run  # noqa: E402
from value_checks import CheckMessages, check_normals_file  # noqa: E402

from mmmtcp.datasets import PascalContextMTDataset  # noqa: E402
from mmmtcp.functional.formats import (  # noqa: E402
    read_index_png, read_pascal_label_map)

DEFAULT_OUT = 'data/PASCALContext'
#: Number of ids of each split in the release.
PASCAL_SPLIT_SIZES = dict(train=4998, val=5105)
#: Largest class id of the 459-class PASCAL-Context ``LabelMap``.
PASCAL_CONTEXT_MAX_LABEL = 459
LAYOUT = ('JPEGImages/, semseg/, human_parts/, sal_distill/, '
          'normals_distill/, pascal-context/trainval/, '
          'ImageSets/Context/{train,val}.txt')


def is_pascal_root(path: str) -> bool:
    """Whether ``path`` looks like the PASCAL-Context release folder."""
    return (osp.isdir(osp.join(path, 'ImageSets', 'Context'))
            and osp.isdir(osp.join(path, 'JPEGImages')))


class PascalIndexer(tolerant_dataset_class(PascalContextMTDataset)):
    """Indexes a split like :class:`PascalContextMTDataset`, recording
    missing files, and without building the person/part cache: a complete
    cache file is used, otherwise every image is taken to possibly hold
    human parts (its ``.mat`` is read by the check) and nothing is
    written."""

    def _parts_cache(self, ids: List[str], part_dir: str) -> Dict[str, list]:
        self.parts_cache_state = 'disabled'
        if not self.parts_cache_file:
            return {}
        path = osp.join(self.data_root,
                        self.parts_cache_file.format(split=self.split))
        self.parts_cache_path = path
        try:
            with open(path) as f:
                cache = json.load(f)
        except FileNotFoundError:
            self.parts_cache_state = 'missing'
            return {}
        except (OSError, ValueError):
            self.parts_cache_state = 'unreadable'
            return {}
        if isinstance(cache, dict) and all(i in cache for i in ids):
            self.parts_cache_state = 'ok'
            return cache
        self.parts_cache_state = 'stale'
        return {}


PascalIndexer.__name__ = PascalIndexer.__qualname__ = (
    PascalContextMTDataset.__name__)


def parts_cache_notes(ds: PascalIndexer) -> List[Tuple[str, str]]:
    """Warning about a missing, unreadable or stale person/part cache."""
    state = getattr(ds, 'parts_cache_state', 'ok')
    if state in ('ok', 'disabled'):
        return []
    return [(ds.parts_cache_path,
             f'person/part cache is {state}; the data set rebuilds it on '
             'first use by reading every human_parts/*.mat of the split')]


def check_human_parts(ann: dict, gt: np.ndarray) -> CheckMessages:
    """Human parts hold 0 (background), 1..6 (groups) or 255 (no parts)."""
    values = set(np.unique(gt).tolist())
    bad = sorted(values - set(range(7)) - {255})
    if bad:
        return [f'parts map holds {bad}; expected 0..6 or 255'], []
    return [], []


def check_saliency(ann: dict, gt: np.ndarray) -> CheckMessages:
    """Saliency PNGs store 0..255 (foreground where png / 255 > 0.5); a
    0/1 map would read as all background (warning)."""
    raw = read_index_png(ann['path'])
    if raw.size and 0 < raw.max() <= 1:
        return [], ['holds only 0/1; the loader reads foreground where '
                    'png / 255 > 0.5, so this map is all background '
                    '(store 0/255)']
    return [], []


def check_label_map(ann: dict, gt: np.ndarray) -> CheckMessages:
    """The ``LabelMap`` holds integer PASCAL-Context class ids 0..459."""
    labels = read_pascal_label_map(ann['path'])
    if labels.ndim != 2:
        return [f'LabelMap has shape {labels.shape}; expected a 2-D map'], []
    if not np.issubdtype(labels.dtype, np.integer) and not np.array_equal(
            labels, np.round(labels)):
        return [f'LabelMap holds non-integer values ({labels.dtype})'], []
    if labels.size and (labels.min() < 0
                        or labels.max() > PASCAL_CONTEXT_MAX_LABEL):
        return [], [f'LabelMap values {labels.min()}..{labels.max()} are '
                    f'outside the 0..{PASCAL_CONTEXT_MAX_LABEL} class ids']
    return [], []


def pascal_spec() -> DatasetSpec:
    """The check's description of PASCAL-Context.

    Returns:
        DatasetSpec: The spec of :func:`data_root_check.check_data_root`.
    """
    return DatasetSpec(
        name='PASCAL-Context',
        dataset_cls=PascalContextMTDataset,
        indexer_cls=PascalIndexer,
        columns=('image', 'semseg', 'human_parts', 'saliency', 'normals',
                 'edge'),
        expected=dict(PASCAL_SPLIT_SIZES),
        what_to_column={
            'image': 'image',
            'semseg': 'semseg',
            'human parts': 'human_parts',
            'saliency': 'saliency',
            'normals': 'normals',
            'LabelMap': 'edge',
        },
        value_checks=dict(
            human_parts=check_human_parts,
            saliency=check_saliency,
            normals=check_normals_file,
            edge=check_label_map),
        tool='tools/dataset_converters/pascal_context.py',
        dataset_kwargs=dict(drop_images_without_parts=False),
        # The data set class would build (read every .mat) and write the
        # person/part cache when it is missing; the indexer above runs the
        # same load_data_list without that.
        confirm=False,
        split_notes=parts_cache_notes)


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
    return parser, parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the tool.

    Args:
        argv (list[str], optional): Arguments. Defaults to ``sys.argv``.

    Returns:
        int: The exit code: 0 success, 1 problems.
    """
    parser, args = parse_args(argv)
    return run(parser, args, pascal_spec(), is_pascal_root, LAYOUT)


if __name__ == '__main__':
    sys.exit(main())
