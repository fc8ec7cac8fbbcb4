"""Config loading shared by the command-line tools."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

from .dist import adapt_config_to_cpu_distributed


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
