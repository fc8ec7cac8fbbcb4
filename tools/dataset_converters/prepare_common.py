"""The shared machinery of the converters, under the name it had at first.

Not a tool of its own: run ``nyud.py`` or ``pascal_context.py``. The
machinery lives in one module per job, all in this folder:

- :mod:`release_archive`: checksum, kind and safe extraction of an archive;
- :mod:`release_root`: the folder of a release that has the layout;
- :mod:`release_placement`: putting a release at the ``data_root``;
- :mod:`check_spec`: the description of a data set the check uses;
- :mod:`value_checks`: checks of the values of a loaded map;
- :mod:`sample_check`: reading and checking one sample;
- :mod:`data_root_check`: the check of a prepared folder, split by split;
- :mod:`check_report`: its summary table, issues and verdict;
- :mod:`converter_cli`: the command line both converters share;
- :mod:`repo_checkout`: this checkout's ``mmmtcp`` first on ``sys.path``.

This module re-exports their public names, so that code importing them
from ``prepare_common`` keeps working; new code imports from the modules.
"""
import os.path as osp
import sys

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import repo_checkout  # noqa: E402,F401
from check_report import GUIDE, Issue  # noqa: E402
from check_spec import DatasetSpec, tolerant_dataset_class  # noqa: E402
from converter_cli import add_arguments, run  # noqa: E402
from data_root_check import check_data_root  # noqa: E402
from release_archive import (archive_type, extract_archive,  # noqa: E402
                             sha256sum)
from release_placement import prepare_data_root  # noqa: E402
from release_root import LayoutError, find_dataset_root  # noqa: E402
from sample_check import check_sample  # noqa: E402
from value_checks import (CheckMessages, ValueCheck,  # noqa: E402
                          check_normals_file)

__all__ = [
    'CheckMessages', 'DatasetSpec', 'GUIDE', 'Issue', 'LayoutError',
    'ValueCheck', 'add_arguments', 'archive_type', 'check_data_root',
    'check_normals_file', 'check_sample', 'extract_archive',
    'find_dataset_root', 'prepare_data_root', 'run', 'sha256sum',
    'tolerant_dataset_class'
]
