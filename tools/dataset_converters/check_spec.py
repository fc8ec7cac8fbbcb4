"""What the check of a prepared folder needs to know about a data set.

Each converter describes its data set with a :class:`DatasetSpec`: the
data set class, the table columns, the release's split sizes and the value
checks of its tasks. The splits are indexed by a subclass of the data set
class that records every missing file instead of stopping at the first one
(:func:`tolerant_dataset_class`), so the check lists them all in one pass.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from value_checks import ValueCheck


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
    """What :func:`data_root_check.check_data_root` needs to know about a
    data set.

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
