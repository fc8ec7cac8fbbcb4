"""Config loading shared by the command-line tools."""
import argparse
import copy
import os.path as osp
import re
from typing import Any, Optional, Sequence

from mmengine.config import Config, DictAction

from .dist import adapt_config_to_cpu_distributed

# a space between two characters of one element of the list syntax
_SPACE_IN_ELEMENT = re.compile(r'[^ ,\[\]()] +[^ ,\[\]()]')


def parse_cfg_option_value(value: str) -> Any:
    """The value of one ``--cfg-options KEY=VALUE``, as mmengine's
    :class:`~mmengine.config.DictAction` reads it but never altered.

    DictAction removes every space of a value, so ``data_root=/tmp/a b/c``
    becomes ``/tmp/ab/c``. Here a single value (no brackets around it, no
    comma) that holds spaces is kept verbatim as a string (numbers,
    booleans and ``None`` with spaces around them are still read as such);
    every other value is read by DictAction, and a list or tuple (``[a,
    b]``, ``(1, 2)``, ``a,b``) whose elements hold spaces, which DictAction
    would remove, is refused.

    Args:
        value (str): The text after the first ``=``.

    Returns:
        The value: str, int, float, bool, None, list or tuple.

    Raises:
        ValueError: A list or tuple element holds a space, or the brackets
            do not balance.
    """
    unquoted = value.strip('\'"')
    compact = unquoted.replace(' ', '')
    iterable = (compact.startswith('(') and compact.endswith(')')
                or compact.startswith('[') and compact.endswith(']')
                or ',' in compact)
    if not iterable:
        if ' ' not in unquoted:
            return DictAction._parse_int_float_bool(unquoted)
        inner = unquoted.strip(' ')
        if ' ' not in inner:
            parsed = DictAction._parse_int_float_bool(inner)
            if not isinstance(parsed, str):
                return parsed
        return unquoted
    if _SPACE_IN_ELEMENT.search(unquoted):
        raise ValueError(
            'an element of this list/tuple holds a space, which the '
            '--cfg-options list syntax cannot keep (it removes every '
            'space); set the value in a config file instead')
    try:
        return DictAction._parse_iterable(value)
    except AssertionError as e:  # DictAction's check of the brackets
        raise ValueError(str(e)) from None


class CfgOptionsAction(DictAction):
    """``--cfg-options KEY=VALUE ...`` into a dict, with the syntax of
    mmengine's :class:`~mmengine.config.DictAction` but values never
    altered silently (:func:`parse_cfg_option_value`): a path with spaces
    is kept as it was typed, and a value DictAction would change, or an
    argument without ``=``, stops the tool with an error naming the key
    and the value as given."""

    def __call__(self,
                 parser: argparse.ArgumentParser,
                 namespace: argparse.Namespace,
                 values: Optional[Sequence[str]],
                 option_string: Optional[str] = None) -> None:
        options = copy.copy(getattr(namespace, self.dest, None) or {})
        option = option_string or self.dest
        for item in values or []:
            if '=' not in item:
                parser.error(f'{option}: {item!r} is not KEY=VALUE')
            key, value = item.split('=', maxsplit=1)
            try:
                options[key] = parse_cfg_option_value(value)
            except ValueError as e:
                parser.error(f'{option}: {key}={value!r}: {e}')
        setattr(namespace, self.dest, options)


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """Load a config file and apply the usual command-line overrides.

    Args:
        path (str): Config file.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        launcher (str): Job launcher. Defaults to ``'none'``.
        work_dir (str, optional): ``--work-dir``; it wins over the config's
            ``work_dir``, which wins over ``./work_dirs/<config name>``.

    Returns:
        Config: The config. For a multi-process launch on a machine
        without GPUs it is adapted to gloo/CPU
        (:func:`~mmmtcp.utils.dist.adapt_config_to_cpu_distributed`).
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    adapt_config_to_cpu_distributed(cfg)
    return cfg


def _dataset_cfgs(cfg) -> list:
    """The dataset configs inside a (possibly wrapped) dataset config."""
    if not isinstance(cfg, dict):
        return []
    found = [cfg] if 'type' in cfg else []
    inner = cfg.get('dataset')
    if inner is not None:
        found += _dataset_cfgs(inner)
    for item in cfg.get('datasets', None) or []:
        found += _dataset_cfgs(item)
    return found


def _is_multi_task_dataset(ds_cls) -> bool:
    """Whether a data set class is a multi-task data set: one whose
    ``METAINFO`` lists the ``tasks`` it provides (the contract of
    :class:`mmmtcp.datasets.multi_task_base.MultiTaskBaseDataset`)."""
    metainfo = getattr(ds_cls, 'METAINFO', None)
    return isinstance(ds_cls, type) and isinstance(metainfo, dict) and \
        'tasks' in metainfo


def check_data_roots(cfg: Config, loaders: Sequence[str]) -> None:
    """Stop early, without a traceback, when a multi-task data set's
    ``data_root`` does not exist.

    The data set's own error (the expected layout, the converter and
    ``docs/en/dataset_prepare.md``) is raised as :class:`SystemExit`
    before the runner is built, so a user without the data gets that
    message rather than the config dump, the model's initialization log
    and a long traceback.

    Args:
        cfg (Config): The loaded config.
        loaders (Sequence[str]): Dataloader keys to check, e.g.
            ``('train_dataloader', 'val_dataloader')``.
    """
    from mmengine.registry import init_default_scope

    from mmseg.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for ds_cfg in _dataset_cfgs(loader_cfg.get('dataset')):
            ds_type = ds_cfg.get('type')
            ds_cls = DATASETS.get(ds_type) if isinstance(ds_type,
                                                         str) else ds_type
            root = ds_cfg.get('data_root')
            if not (_is_multi_task_dataset(ds_cls)
                    and isinstance(root, str) and not osp.isdir(root)):
                continue
            try:
                DATASETS.build(ds_cfg)
            except (FileNotFoundError, ValueError) as e:
                raise SystemExit(f'{loader}.dataset: {e}') from None
