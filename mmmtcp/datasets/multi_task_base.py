"""Common machinery of the multi-task dense prediction data sets."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmseg.datasets import BaseSegDataset

from mmmtcp.tasks.task_spec import BUILTIN_TASKS, check_tasks

#: Where the errors about missing data point: the preparation guide and,
#: per data set class (looked up along the MRO), the expected top-level
#: layout, the release it comes from and its converter script.
DATA_PREPARE_GUIDE = 'docs/en/dataset_prepare.md'
DATA_PREPARE_HINTS: Dict[str, Dict[str, str]] = {
    'NYUDv2Dataset': dict(
        release='NYUD-v2 multi-task release (ATRC/InvPT NYUDv2.tar.gz)',
        tree='images/, segmentation/, depth/, normals/, edge/ and '
        'gt_sets/{train,val}.txt',
        tool='tools/dataset_converters/nyud.py',
        archive='NYUDv2.tar.gz',
        extra='; the synthetic demo data is written by `python '
        'tools/generate_synthetic_scenes.py DIR`'),
    'PascalContextMTDataset': dict(
        release='PASCAL-Context multi-task release (ATRC/InvPT '
        'PASCALContext.tar.gz)',
        tree='JPEGImages/, semseg/, human_parts/, sal_distill/, '
        'normals_distill/, pascal-context/trainval/ and '
        'ImageSets/Context/{train,val}.txt',
        tool='tools/dataset_converters/pascal_context.py',
        archive='PASCALContext.tar.gz',
        extra=''),
}


class MultiTaskBaseDataset(BaseSegDataset):
    """Base of the multi-task data sets (not registered).

    Subclasses define ``METAINFO`` (with ``tasks``, the tasks the data set
    provides) and :meth:`load_data_list`. Each data info holds ``img_path``,
    ``tasks``, ``ann_info`` (``{task: dict(path=..., format=...)}``, read by
    :class:`LoadMultiTaskAnnotations`) and ``seg_fields=[]``.

    Args:
        tasks (Sequence[str | dict], optional): Tasks whose maps are
            loaded: names of ``METAINFO['tasks']``, and tasks declared in
            the config (``dict(name='albedo', kind='regression',
            channels=3)``, see :mod:`mmmtcp.tasks`) that data sets
            supporting them (:attr:`EXTRA_TASKS`) read from
            ``<data_root>/<name>/<id>.npy`` or ``.png`` with their kind's
            reader. Defaults to all of ``METAINFO['tasks']``.
        split (str): Split name used to find the split file when
            ``ann_file`` is empty.
        **kwargs: Arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO: dict = dict()
    #: split file pattern relative to ``data_root``
    SPLIT_FILE: str = ''
    #: whether tasks outside ``METAINFO['tasks']`` can be read from
    #: ``<data_root>/<task>/`` folders
    EXTRA_TASKS: bool = False

    def __init__(self,
                 tasks: Optional[Sequence[str]] = None,
                 split: str = 'train',
                 ann_file: str = '',
                 data_root: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        available = list(self.METAINFO['tasks'])
        tasks = available if tasks is None else check_tasks(tasks, 'tasks')
        missing = [
            t for t in tasks if t not in available and (
                not self.EXTRA_TASKS or t in BUILTIN_TASKS)
        ]
        if missing:
            extra = (' or tasks declared in the config, read from '
                     '<data_root>/<task>/' if self.EXTRA_TASKS else '')
            raise ValueError(
                f'{type(self).__name__}: `tasks` contains {missing}, which '
                f'this data set does not provide; available: {available}'
                f'{extra}')
        if not tasks:
            raise ValueError(f'{type(self).__name__}: `tasks` is empty')
        self.tasks = tasks
        self.split = split
        if not ann_file:
            ann_file = self.SPLIT_FILE.format(split=split)
        metainfo = dict(metainfo or {})
        metainfo.setdefault('tasks', list(tasks))
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            metainfo=metainfo,
            reduce_zero_label=False,
            **kwargs)

    # ------------------------------------------------------------------
    def _prepare_hint(self) -> Dict[str, str]:
        """Layout and converter of this data set for error messages."""
        for klass in type(self).__mro__:
            if klass.__name__ in DATA_PREPARE_HINTS:
                return DATA_PREPARE_HINTS[klass.__name__]
        return dict(
            release='data set', tree=f'the split file {self.SPLIT_FILE!r}',
            tool='', archive='', extra='')

    def _check_root(self) -> str:
        name = type(self).__name__
        hint = self._prepare_hint()
        if self.data_root is None:
            raise ValueError(
                f'{name}: `data_root` must be set to the folder of the '
                f'{hint["release"]} (see {DATA_PREPARE_GUIDE})')
        if not osp.isdir(self.data_root):
            where = ('' if osp.isabs(self.data_root) else
                     f' (resolved to {osp.abspath(self.data_root)!r})')
            tool = (f'Prepare it with `python {hint["tool"]} '
                    f'{hint["archive"]} -o {self.data_root}` '
                    if hint['tool'] else 'Prepare it ')
            raise FileNotFoundError(
                f'{name}: data_root {self.data_root!r} does not exist'
                f'{where}. It should hold the {hint["release"]}: '
                f'{hint["tree"]}. {tool}(guide: {DATA_PREPARE_GUIDE}), or '
                'set `data_root` of the dataset config to an existing copy'
                f'{hint["extra"]}.')
        return self.data_root

    def _check_command(self) -> str:
        """The command that lists every problem of ``data_root``."""
        tool = self._prepare_hint()['tool']
        if not tool:
            return f'{DATA_PREPARE_GUIDE} describes the layout'
        return (f'`python {tool} --check {self.data_root}` lists every '
                f'missing or malformed file (guide: {DATA_PREPARE_GUIDE})')

    def _read_split(self) -> List[str]:
        name = type(self).__name__
        if not osp.isfile(self.ann_file):
            hint = self._prepare_hint()
            try:
                found = sorted(os.listdir(self.data_root))
            except OSError:
                found = []
            shown = ', '.join(
                e + ('/' if osp.isdir(osp.join(self.data_root, e)) else '')
                for e in found[:8]) + (', ...' if len(found) > 8 else '')
            raise FileNotFoundError(
                f'{name}: split file (`ann_file`) {self.ann_file!r} not found '
                f'(split={self.split!r}). data_root {self.data_root!r} '
                f'should hold {hint["tree"]}; it holds [{shown}]. '
                f'{self._check_command()}.')
        with open(self.ann_file, 'rb') as f:
            raw = f.read()
        try:
            if b'\x00' in raw:
                raise ValueError('it holds NUL bytes')
            text = raw.decode('utf-8-sig')
        except ValueError as e:
            example = self.SPLIT_FILE.format(split=self.split) or 'ids.txt'
            raise ValueError(
                f'{name}: split file (`ann_file`) {self.ann_file!r} is not a '
                f'UTF-8 text file ({e}; it starts with the bytes '
                f'{raw[:8].hex(" ").upper()}). It should be a text list of '
                f'sample ids, one per line (like {example}); check '
                f'`ann_file` of the dataset config (split={self.split!r}) '
                f'and {self._check_command()}.') from None
        ids = [line.strip() for line in text.splitlines()]
        ids = [i for i in ids if i]
        if not ids:
            raise ValueError(f'{name}: split file {self.ann_file!r} is empty '
                             f'(one sample id per line expected; '
                             f'{self._check_command()})')
        return ids

    @staticmethod
    def _listdir(path: str) -> set:
        return set(os.listdir(path)) if osp.isdir(path) else set()

    def _find(self, folder: str, files: set, sample_id: str,
              suffixes: Sequence[str], what: str) -> str:
        """Path of ``sample_id`` + the first suffix present, or raise."""
        for suffix in suffixes:
            if sample_id + suffix in files:
                return osp.join(folder, sample_id + suffix)
        tried = ', '.join(osp.join(folder, sample_id + s) for s in suffixes)
        raise FileNotFoundError(
            f'{type(self).__name__}: sample {sample_id!r} listed in '
            f'{self.ann_file!r} has no {what} file (looked for {tried}); '
            f'{self._check_command()}')

    def _extra_task_info(self, task: str, sample_id: str,
                         files: Dict[str, set]) -> dict:
        """Annotation info of a config-declared task: its map is
        ``<data_root>/<task>/<id>.npy`` or ``.png``, read by its kind."""
        folder = osp.join(self.data_root, task)
        if task not in files:
            files[task] = self._listdir(folder)
        path = self._find(folder, files[task], sample_id, ('.npy', '.png'),
                          f'{task} ({task}/)')
        return dict(path=path, format='task_kind', task=task)

    def _base_info(self, sample_id: str, img_path: str,
                   ann_info: Dict[str, dict]) -> dict:
        return dict(
            img_path=img_path,
            sample_id=sample_id,
            seg_map_path=None,
            tasks=list(self.tasks),
            ann_info=ann_info,
            label_map=self.label_map,
            reduce_zero_label=False,
            normal_axes=tuple(self._metainfo.get('normal_axes', ())),
            seg_fields=[])
