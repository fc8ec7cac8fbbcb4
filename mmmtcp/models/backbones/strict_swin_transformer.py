"""mmseg's Swin Transformer whose pretrained weights load strictly.

Liu et al., "Swin Transformer: Hierarchical Vision Transformer using Shifted
Windows", ICCV 2021; the backbone of the released MT-CP code's Mask2Former
trunk (Fontana, Spratling, Shi, WACV 2025, Klodivio355/MT-CP).

mmseg's ``SwinTransformer`` reads a ``Pretrained`` ``init_cfg`` itself and
loads it with ``strict=False``: a checkpoint of another architecture, or
one missing blocks, only logs the missing keys and trains from random
weights. This subclass is the same network (same parameters, same names,
same forward) and loads a ``Pretrained`` ``init_cfg`` through
:func:`mmmtcp.utils.load_pretrained_strictly` (mmmtcp's safe loader, every
weight present with its shape, an error naming the file otherwise), as the
trunk's neck does. mmseg's bicubic resizing of the relative position
tables (a checkpoint of another window size) is not done: such a
checkpoint is refused with the tables' shapes.

Args:
    init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...,
        prefix=...)``: ``prefix`` (e.g. ``'backbone.'`` for a segmentor's
        checkpoint such as mmseg's Mask2Former) selects the checkpoint's
        keys, as in mmengine's ``PretrainedInit``; ``map_location``
        defaults to ``'cpu'``. None: mmseg's random initialization.
        Defaults to None.
    **kwargs: mmseg's ``SwinTransformer`` arguments (``embed_dims``,
        ``depths``, ``num_heads``, ``window_size``, ``out_indices``, ...).
"""
from typing import Optional

from mmmtcp.utils import (check_pretrained_init_cfg,
                          load_pretrained_init_cfg)
from mmseg.models.backbones import SwinTransformer
from mmseg.registry import MODELS


@MODELS.register_module()
class StrictSwinTransformer(SwinTransformer):
    """mmseg's ``SwinTransformer`` loading ``Pretrained`` weights strictly
    (see the module docstring)."""

    def __init__(self, init_cfg: Optional[dict] = None, **kwargs) -> None:
        if init_cfg is not None and init_cfg.get('type') == 'Pretrained':
            check_pretrained_init_cfg(init_cfg, type(self).__name__)
        super().__init__(init_cfg=init_cfg, **kwargs)

    def init_weights(self) -> None:
        """mmseg's initialization, or the ``Pretrained`` checkpoint's
        weights, every one of them."""
        cfg = self.init_cfg
        if cfg is None or cfg.get('type') != 'Pretrained':
            super().init_weights()
            return
        load_pretrained_init_cfg(self, cfg)
