"""High-level inference API for multi-task models, like ``mmseg.apis``."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ImageType = Union[str, np.ndarray, Sequence[str], Sequence[np.ndarray]]

# Pipeline steps that read ground truth; users' own images have none.
_ANNOTATION_LOADERS = ('LoadMultiTaskAnnotations', 'LoadAnnotations')
# Steps that read the image file; an array input replaces them with
# LoadImageFromNDArray.
_IMAGE_FILE_LOADERS = ('LoadImageFromFile', 'LoadCheckedImageFromFile')


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a multi-task model from a config and load a checkpoint.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Checkpoint to load. Without it the model
            keeps its initial weights.
        device (str): Device, e.g. ``'cpu'`` or ``'cuda:0'``.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` and ``dataset_meta``
        attributes.
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError('config must be a filename or a Config, got '
                        f'{type(config)}')
    if cfg_options is not None:
        config.merge_from_dict(cfg_options)
    init_default_scope(config.get('default_scope', 'mmseg'))
    model_cfg = config.model.copy()
    # Pretrained initialisation is pointless when a checkpoint follows and
    # may need a download; drop it.
    if checkpoint is not None:
        for value in model_cfg.values():
            if isinstance(value, dict) and 'init_cfg' in value:
                value['init_cfg'] = None
    model = MODELS.build(model_cfg)
    model.dataset_meta = None
    if checkpoint is not None:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
        model.dataset_meta = ckpt.get('meta', {}).get('dataset_meta')
    if model.dataset_meta is None:
        dataset_cfg = config.get('test_dataloader', {}).get('dataset', {})
        dataset_type = dataset_cfg.get('type')
        from mmseg.registry import DATASETS
        dataset_cls = DATASETS.get(dataset_type) if dataset_type else None
        model.dataset_meta = dict(getattr(dataset_cls, 'METAINFO', {}))
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _build_pipeline(cfg: Config, from_array: bool) -> Compose:
    steps = []
    for step in cfg.test_pipeline:
        if step['type'] in _ANNOTATION_LOADERS:
            continue
        step = dict(step)
        if from_array and step['type'] in _IMAGE_FILE_LOADERS:
            step = dict(type='LoadImageFromNDArray')
        steps.append(step)
    return Compose(steps)


def inference_model(
        model: torch.nn.Module,
        img: ImageType) -> Union[SegDataSample, List[SegDataSample]]:
    """Predict every task of the model on image(s).

    Args:
        model (nn.Module): A model from :func:`init_model`.
        img (str | np.ndarray | list): Image file(s) or BGR array(s).

    Returns:
        SegDataSample | list[SegDataSample]: Predictions in the
        ``pred_*`` fields (one sample per image, a list for a list input).
    """
    is_batch = isinstance(img, (list, tuple))
    imgs = list(img) if is_batch else [img]
    from_array = isinstance(imgs[0], np.ndarray)
    pipeline = _build_pipeline(model.cfg, from_array)
    outputs = []
    # One image per forward: users' images may differ in size.
    for item in imgs:
        if from_array:
            data = pipeline(dict(img=item))
        else:
            data = pipeline(dict(img_path=str(item)))
        with torch.no_grad():
            outputs += model.test_step(pseudo_collate([data]))
    return outputs if is_batch else outputs[0]
