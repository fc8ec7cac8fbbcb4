"""Config loading shared by the command-line tools."""
import os.path as osp
from typing import Optional

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
