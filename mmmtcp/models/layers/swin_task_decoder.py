"""Per-task Swin decoder of the released MT-CP code.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025.

The released code (Klodivio355/MT-CP, ``models/models_nyud_CL.py``) decodes
every task from ONE shared 1/4-scale map with a small Swin transformer of its
own (``SwinTransformer`` of ``models/swim_transformer2.py`` called through
``forward2``: the map enters the first stage directly as tokens, without
patch embedding or absolute position embedding; stages of depths 1, 2, 1 and
2 heads each, window 7, patch merging between stages, a LayerNorm per stage
output) and fuses the three stage outputs (1/4, 1/8, 1/16) with
``DynamicFPNFusionModule`` into the task map ``X_t`` (:class:`FPNFusion`).
Its trace-back walks over the stage outputs themselves.

The stages are mmseg's own Swin building blocks (``SwinBlockSequence`` and
``PatchMerging``). mmseg's patch merging gathers each 2x2 neighbourhood with
``nn.Unfold``, which orders the four merged tokens differently from the
release's concatenation: the two compute the same family of functions (a
fixed permutation of the merging layer's input channels), so a decoder
trained from scratch, as the release's are, is unaffected, while the
release's merging weights would need that permutation to be loaded.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.backbones.swin import SwinBlockSequence
from mmseg.models.utils.embed import PatchMerging
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from .fpn_fusion import FPNFusion


@MODELS.register_module()
class SwinTaskDecoder(BaseModule):
    """A small Swin on one shared map, fused top-down into ``X_t``.

    Stage ``i`` works on ``embed_dims * 2**i`` channels at
    ``ceil(H / 2**i) x ceil(W / 2**i)`` of the ``H x W`` input level (patch
    merging pads odd sizes at the bottom and right, windows pad sizes that
    are not multiples of ``window_size``). The stage outputs (after their
    LayerNorms when ``out_norm``) are fused by ``fusion`` into ``X_t`` at the
    input level's size.

    Args:
        in_channels (Sequence[int]): Channels of the shared features, fine
            to coarse; only the level ``in_index`` is read.
        channels (int): Channels of ``X_t`` (and of the fused pyramid).
            Defaults to 256.
        norm_cfg (dict): Accepted for the interface common to task decoders
            (a multi-task head passes its own); not used: the transformer
            uses ``swin_norm_cfg`` and the fusion the ``norm_cfg`` of
            ``fusion`` (none by default, as the release). Defaults to BN.
        act_cfg (dict): Accepted like ``norm_cfg``; not used. Defaults to
            ReLU.
        align_corners (bool): ``align_corners`` of a bilinear fusion.
            Defaults to False.
        pyramid (str): Per-scale features ``forward`` returns for the
            trace-back: ``'lateral'`` (the release): the stage outputs,
            ``embed_dims * 2**i`` channels; ``'fused'``: the fusion's
            per-level outputs, ``channels`` each. Defaults to ``'lateral'``.
        in_index (int): Which input level the transformer reads. Defaults to
            0 (the finest, the release's 1/4 map).
        embed_dims (int, optional): Channels of the first stage. Defaults to
            ``channels``. When the input level has other channels, a linear
            1x1 projection followed by a LayerNorm (``swin_norm_cfg``; the
            form of a Swin patch embedding with patch size 1) maps it to
            ``embed_dims``; when they are equal (the release) the map enters
            the first stage unchanged.
        depths (Sequence[int]): Swin blocks per stage. Defaults to
            ``(1, 2, 1)``.
        num_heads (Sequence[int]): Attention heads per stage. Defaults to
            ``(2, 2, 2)``.
        window_size (int): Attention window. Defaults to 7.
        mlp_ratio (float): Hidden width of the blocks' MLPs relative to the
            stage's channels. Defaults to 4.
        drop_path_rate (float): Stochastic depth rate, increasing linearly
            over all blocks up to this value. Defaults to 0.
        qkv_bias (bool): Bias of the query/key/value projections. Defaults
            to True.
        out_norm (bool): A LayerNorm (``swin_norm_cfg``) on every stage
            output, as the release. Defaults to True.
        swin_norm_cfg (dict): Normalization inside the transformer (blocks,
            patch merging, output norms). Defaults to LN.
        swin_act_cfg (dict): Activation of the blocks' MLPs. Defaults to
            GELU.
        with_cp (bool): Gradient checkpointing of the Swin blocks. Defaults
            to False.
        conv_cfg (dict, optional): Convolution of the input projection.
            Defaults to None.
        fusion (dict): Options of the fusion module; ``type`` defaults to
            ``'FPNFusion'``, ``in_channels`` and ``channels`` are set here.
            For :class:`FPNFusion`, ``all_levels`` defaults to
            ``pyramid == 'fused'`` (the coarser output convolutions are only
            built when their outputs are returned). Defaults to
            ``dict(type='FPNFusion')``: nearest upsampling, no norm, no
            activation (the release).
        init_cfg (dict | list[dict], optional): Initialization config.

    Returns:
        tuple: ``forward`` returns ``(x_t, pyramid)`` like
        :class:`TaskDecoder`: ``x_t`` at the input level's size and the
        per-scale features fine to coarse (see ``pyramid``; channels in
        ``pyramid_channels``).
    """

    PYRAMIDS = ('lateral', 'fused')

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 256,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 pyramid: str = 'lateral',
                 in_index: int = 0,
                 embed_dims: Optional[int] = None,
                 depths: Sequence[int] = (1, 2, 1),
                 num_heads: Sequence[int] = (2, 2, 2),
                 window_size: int = 7,
                 mlp_ratio: float = 4,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 out_norm: bool = True,
                 swin_norm_cfg: ConfigType = dict(type='LN'),
                 swin_act_cfg: ConfigType = dict(type='GELU'),
                 with_cp: bool = False,
                 conv_cfg: OptConfigType = None,
                 fusion: ConfigType = dict(type='FPNFusion'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = 'SwinTaskDecoder (decode_head.decoder)'
        if pyramid not in self.PYRAMIDS:
            raise ValueError(f'{name}: `pyramid` must be one of '
                             f'{self.PYRAMIDS}, got {pyramid!r}')
        in_channels = list(in_channels)
        if not in_channels:
            raise ValueError(f'{name}: `in_channels` is empty')
        if not -len(in_channels) <= in_index < len(in_channels):
            raise ValueError(f'{name}: `in_index` {in_index} does not fit '
                             f'`in_channels` {in_channels}')
        depths = [int(d) for d in depths]
        num_heads = [int(h) for h in num_heads]
        if not depths or min(depths) < 1:
            raise ValueError(f'{name}: `depths` needs one positive entry per '
                             f'stage, got {depths}')
        if len(depths) != len(num_heads):
            raise ValueError(f'{name}: `depths` {depths} and `num_heads` '
                             f'{num_heads} need the same length (one entry '
                             f'per stage)')
        embed_dims = channels if embed_dims is None else int(embed_dims)
        dims = [embed_dims * 2**i for i in range(len(depths))]
        for i, (d, h) in enumerate(zip(dims, num_heads)):
            if h < 1 or d % h:
                raise ValueError(f'{name}: stage {i} has {d} channels '
                                 f'(`embed_dims` * 2**{i}), not divisible '
                                 f'by its `num_heads` entry {h}')
        if window_size < 1:
            raise ValueError(f'{name}: `window_size` must be positive, got '
                             f'{window_size}')

        self.in_channels = in_channels
        self.channels = channels
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.align_corners = align_corners
        self.pyramid = pyramid
        self.in_index = in_index % len(in_channels)
        self.embed_dims = embed_dims
        self.depths = depths
        self.num_heads = num_heads
        self.window_size = window_size

        src = in_channels[self.in_index]
        if src != embed_dims:
            self.in_proj = ConvModule(
                src, embed_dims, 1, conv_cfg=conv_cfg, norm_cfg=None,
                act_cfg=None)
            self.in_norm = build_norm_layer(swin_norm_cfg, embed_dims)[1]
        else:
            self.in_proj = None
            self.in_norm = None

        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        for i, (d, depth, heads) in enumerate(zip(dims, depths, num_heads)):
            downsample = None
            if i < len(depths) - 1:
                downsample = PatchMerging(
                    in_channels=d, out_channels=dims[i + 1],
                    padding='corner', norm_cfg=swin_norm_cfg)
            start = sum(depths[:i])
            self.stages.append(
                SwinBlockSequence(
                    embed_dims=d,
                    num_heads=heads,
                    feedforward_channels=int(mlp_ratio * d),
                    depth=depth,
                    window_size=window_size,
                    qkv_bias=qkv_bias,
                    drop_path_rate=rates[start:start + depth],
                    downsample=downsample,
                    act_cfg=swin_act_cfg,
                    norm_cfg=swin_norm_cfg,
                    with_cp=with_cp))
        self.out_norms = nn.ModuleList([
            build_norm_layer(swin_norm_cfg, d)[1] for d in dims
        ]) if out_norm else None

        fusion = dict(fusion or {})
        fusion.setdefault('type', 'FPNFusion')
        for key in ('in_channels', 'channels'):
            if key in fusion:
                raise ValueError(f'{name}: `fusion.{key}` is set by the '
                                 f'decoder (stage channels {dims}, '
                                 f'`channels` {channels}); remove it')
        fusion.update(in_channels=dims, channels=channels)
        fusion.setdefault('align_corners', align_corners)
        if fusion['type'] in ('FPNFusion', FPNFusion):
            fusion.setdefault('all_levels', pyramid == 'fused')
            if pyramid == 'fused' and not fusion['all_levels']:
                raise ValueError(f"{name}: `pyramid='fused'` returns every "
                                 'level of the fusion; it needs '
                                 '`fusion.all_levels=True`')
        self.fusion = MODELS.build(fusion)

        #: channels of the returned per-scale features, fine to coarse
        self.pyramid_channels: List[int] = (
            dims if pyramid == 'lateral' else [channels] * len(dims))

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, List[Tensor]]:
        """Decode the shared features (fine to coarse) for one task.

        Args:
            inputs (Sequence[Tensor]): One map per entry of ``in_channels``;
                only ``inputs[in_index]`` is read.

        Returns:
            tuple[Tensor, list[Tensor]]: ``(x_t, pyramid)``: ``x_t`` of
            ``channels`` at the read level's size and the per-scale
            features, fine to coarse.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'SwinTaskDecoder expects {len(self.in_channels)}'
                             f' feature maps (`in_channels`), got '
                             f'{len(inputs)}')
        x = inputs[self.in_index]
        if x.shape[1] != self.in_channels[self.in_index]:
            raise ValueError(
                f'SwinTaskDecoder: input level {self.in_index} has '
                f'{x.shape[1]} channels, `in_channels` says '
                f'{self.in_channels[self.in_index]}')
        if self.in_proj is not None:
            x = self.in_proj(x)
        batch, _, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        if self.in_norm is not None:
            tokens = self.in_norm(tokens)
        hw_shape = (height, width)
        lateral = []
        for i, stage in enumerate(self.stages):
            tokens, next_hw, out, out_hw = stage(tokens, hw_shape)
            if self.out_norms is not None:
                out = self.out_norms[i](out)
            lateral.append(
                out.transpose(1, 2).reshape(batch, -1, *out_hw).contiguous())
            hw_shape = next_hw
        x_t, fused = self.fusion(lateral)
        return x_t, (lateral if self.pyramid == 'lateral' else fused)
