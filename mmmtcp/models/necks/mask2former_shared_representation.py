"""The shared representation of the released MT-CP code: a Mask2Former trunk.

Fontana, Spratling, Shi, "Optimizing Dense Visual Predictions Through
Multi-Task Coherence and Prioritization", WACV 2025.

The released code (Klodivio355/MT-CP, ``models/models_nyud_CL.py``) runs a
whole Mask2Former (Cheng et al., "Masked-attention Mask Transformer for
Universal Image Segmentation", CVPR 2022; Hugging Face's
``Mask2FormerForUniversalSegmentation`` of
``facebook/mask2former-swin-small-ade-semantic``: Swin-S, ADE20K semantic)
and decodes every task from ONE map::

    shared = outputs.pixel_decoder_last_hidden_state   # B x 256 x H/4 x W/4
    masks = outputs.masks_queries_logits               # B x Q x H/4 x W/4
    shared = torch.einsum('bnhw, bdhw -> bdhw', masks, shared)

In Hugging Face's model ``pixel_decoder_last_hidden_state`` is the pixel
decoder's mask features (its 1/4-scale FPN output after the 1x1 mask
projection) and ``masks_queries_logits`` the mask logits of the LAST
transformer decoder layer (mask-embedding MLP of the post-normed queries
times the mask features). The einsum sums over the queries, so::

    shared[b, d, h, w] = mask_features[b, d, h, w]
                         * sum_n mask_logits[b, n, h, w]

This neck computes exactly that from mmdet's Mask2Former modules: mmdet's
``MSDeformAttnPixelDecoder`` (a multi-scale deformable-attention encoder on
the 1/8-1/32 levels, an FPN step to 1/4, the mask projection) and the
masked-attention transformer decoder of mmdet's ``Mask2FormerHead``
(``Mask2FormerTransformerDecoder``, learned query features and positions,
level embeddings, the mask-embedding MLP; each layer attends where the
previous layer's masks are positive). Hugging Face's modules compute the
same function with the same weights under other names. The class head is
not built: the release computes class scores but never uses them.

Its parameters are named as in mmseg's ``Mask2FormerHead``, so the
``decode_head.*`` weights of an mmseg Mask2Former checkpoint (e.g.
``mask2former_swin-s_8xb2-160k_ade20k-512x512``, whose ``backbone.*``
weights go to the trunk's Swin, ``StrictSwinTransformer``) load with
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='decode_head.')``,
strictly: a missing, unexpected (except the unused ``cls_embed.*``) or
misshapen weight is an error
(:func:`mmmtcp.utils.load_pretrained_strictly`).
"""
import copy
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import Conv2d
from mmdet.models.layers import (Mask2FormerTransformerDecoder,
                                 SinePositionalEncoding)
from mmengine.config import ConfigDict
from mmengine.model import BaseModule, ModuleList, caffe2_xavier_init
from mmengine.model.weight_init import initialize
from torch import Tensor

from mmmtcp.utils import load_pretrained_init_cfg
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig

#: mmseg's Mask2Former pixel decoder (configs/mask2former/
#: mask2former_r50_8xb2-160k_ade20k-512x512.py), as Hugging Face's
#: ``facebook/mask2former-swin-small-ade-semantic``: 6 deformable-attention
#: encoder layers on 3 levels, 8 heads, 4 points, FFN 1024.
PIXEL_DECODER = dict(
    type='mmdet.MSDeformAttnPixelDecoder',
    num_outs=3,
    norm_cfg=dict(type='GN', num_groups=32),
    act_cfg=dict(type='ReLU'),
    encoder=dict(
        num_layers=6,
        layer_cfg=dict(
            self_attn_cfg=dict(
                embed_dims=256,
                num_heads=8,
                num_levels=3,
                num_points=4,
                im2col_step=64,
                dropout=0.0,
                batch_first=True,
                norm_cfg=None,
                init_cfg=None),
            ffn_cfg=dict(
                embed_dims=256,
                feedforward_channels=1024,
                num_fcs=2,
                ffn_drop=0.0,
                act_cfg=dict(type='ReLU', inplace=True))),
        init_cfg=None),
    positional_encoding=dict(num_feats=128, normalize=True),
    init_cfg=None)

#: mmseg's Mask2Former transformer decoder: 9 masked-attention layers (Hugging
#: Face counts 10 ``decoder_layers``, the prediction from the initial queries
#: included), 8 heads, FFN 2048.
_ATTENTION = dict(
    embed_dims=256,
    num_heads=8,
    attn_drop=0.0,
    proj_drop=0.0,
    dropout_layer=None,
    batch_first=True)
TRANSFORMER_DECODER = dict(
    return_intermediate=True,
    num_layers=9,
    layer_cfg=dict(
        self_attn_cfg=dict(_ATTENTION),
        cross_attn_cfg=dict(_ATTENTION),
        ffn_cfg=dict(
            embed_dims=256,
            feedforward_channels=2048,
            num_fcs=2,
            act_cfg=dict(type='ReLU', inplace=True),
            ffn_drop=0.0,
            dropout_layer=None,
            add_identity=True)),
    init_cfg=None)


@MODELS.register_module()
class Mask2FormerSharedRepresentation(BaseModule):
    """Mask features weighted by the summed query masks of a Mask2Former.

    Reads the backbone's feature maps fine to coarse (e.g. the 4 stages of
    mmseg's ``SwinTransformer``) and returns one map at the finest level's
    size: the pixel decoder's mask features (``out_channels``) times the sum
    over the queries of the last transformer decoder layer's mask logits.

    Args:
        in_channels (Sequence[int]): Channels of the backbone's maps, fine to
            coarse (Swin-S: ``[96, 192, 384, 768]``).
        strides (Sequence[int]): Their strides. Defaults to
            ``(4, 8, 16, 32)``.
        feat_channels (int): Width of the pixel decoder and of the queries.
            Defaults to 256.
        out_channels (int): Channels of the mask features, hence of the
            output. Defaults to 256.
        num_queries (int): Queries of the transformer decoder. Defaults to
            100.
        num_transformer_feat_level (int): Pixel decoder levels the
            transformer decoder attends to, coarse to fine in turn. Defaults
            to 3.
        pixel_decoder (dict): Pixel decoder config; ``in_channels``,
            ``strides``, ``feat_channels`` and ``out_channels`` are set here.
            Defaults to :data:`PIXEL_DECODER` (mmseg's Mask2Former).
        enforce_decoder_input_project (bool): A 1x1 convolution on the pixel
            decoder's levels even when their width equals the decoder's.
            Defaults to False.
        positional_encoding (dict): Sine position encoding of the transformer
            decoder's keys. Defaults to ``dict(num_feats=128,
            normalize=True)``.
        transformer_decoder (dict): ``Mask2FormerTransformerDecoder`` config.
            Defaults to :data:`TRANSFORMER_DECODER` (mmseg's Mask2Former).
        init_cfg (dict | list[dict], optional): Initialization config. A
            ``dict(type='Pretrained', checkpoint=..., prefix=...)`` entry is
            loaded strictly by this module (``prefix='decode_head.'`` for an
            mmseg Mask2Former checkpoint; the checkpoint's ``cls_embed.*``
            weights are skipped). Without it the weights are initialized as
            mmdet's ``Mask2FormerHead`` does.

    Returns:
        tuple[Tensor]: ``forward`` returns one map, ``B x out_channels x h x
        w`` at the size of the finest input.
    """

    #: weights of a Mask2Former checkpoint this module has no use for
    IGNORED_KEYS = ('cls_embed.', )

    def __init__(self,
                 in_channels: Sequence[int],
                 strides: Sequence[int] = (4, 8, 16, 32),
                 feat_channels: int = 256,
                 out_channels: int = 256,
                 num_queries: int = 100,
                 num_transformer_feat_level: int = 3,
                 pixel_decoder: ConfigType = PIXEL_DECODER,
                 enforce_decoder_input_project: bool = False,
                 positional_encoding: ConfigType = dict(
                     num_feats=128, normalize=True),
                 transformer_decoder: ConfigType = TRANSFORMER_DECODER,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = 'Mask2FormerSharedRepresentation'
        in_channels = [int(c) for c in in_channels]
        strides = [int(s) for s in strides]
        if len(in_channels) != len(strides):
            raise ValueError(f'{name}: `in_channels` {in_channels} and '
                             f'`strides` {strides} need one entry per input '
                             'level')
        pixel_decoder = ConfigDict(copy.deepcopy(pixel_decoder))
        transformer_decoder = ConfigDict(copy.deepcopy(transformer_decoder))
        encoder_levels = pixel_decoder.encoder.layer_cfg.self_attn_cfg.get(
            'num_levels', 4)
        if encoder_levels != num_transformer_feat_level:
            raise ValueError(
                f'{name}: the pixel decoder encodes {encoder_levels} levels '
                '(`pixel_decoder.encoder.layer_cfg.self_attn_cfg.num_levels`)'
                f' but `num_transformer_feat_level` is '
                f'{num_transformer_feat_level}; they must be equal')
        if not encoder_levels < len(in_channels):
            raise ValueError(
                f'{name}: the pixel decoder encodes {encoder_levels} levels '
                f'and needs at least one more finer input level for its mask '
                f'features, got {len(in_channels)} (`in_channels`)')
        for key in ('in_channels', 'strides', 'feat_channels',
                    'out_channels'):
            if key in pixel_decoder:
                raise ValueError(f'{name}: `pixel_decoder.{key}` is set by '
                                 f'the neck; set `{key}` of the neck instead')
        self.in_channels = in_channels
        self.strides = strides
        self.feat_channels = feat_channels
        self.out_channels = out_channels
        self.num_queries = num_queries
        self.num_transformer_feat_level = num_transformer_feat_level
        self.num_heads = transformer_decoder.layer_cfg.cross_attn_cfg.num_heads
        self.num_transformer_decoder_layers = transformer_decoder.num_layers

        pixel_decoder.update(
            in_channels=in_channels,
            strides=strides,
            feat_channels=feat_channels,
            out_channels=out_channels)
        self.pixel_decoder = MODELS.build(pixel_decoder)
        self.transformer_decoder = Mask2FormerTransformerDecoder(
            **transformer_decoder)
        self.decoder_embed_dims = self.transformer_decoder.embed_dims
        # from low resolution to high resolution
        self.decoder_input_projs = ModuleList()
        for _ in range(num_transformer_feat_level):
            if (self.decoder_embed_dims != feat_channels
                    or enforce_decoder_input_project):
                self.decoder_input_projs.append(
                    Conv2d(
                        feat_channels, self.decoder_embed_dims,
                        kernel_size=1))
            else:
                self.decoder_input_projs.append(nn.Identity())
        self.decoder_positional_encoding = SinePositionalEncoding(
            **positional_encoding)
        self.query_embed = nn.Embedding(num_queries, feat_channels)
        self.query_feat = nn.Embedding(num_queries, feat_channels)
        self.level_embed = nn.Embedding(num_transformer_feat_level,
                                        feat_channels)
        self.mask_embed = nn.Sequential(
            nn.Linear(feat_channels, feat_channels), nn.ReLU(inplace=True),
            nn.Linear(feat_channels, feat_channels), nn.ReLU(inplace=True),
            nn.Linear(feat_channels, out_channels))

    def init_weights(self) -> None:
        """Initialize as mmdet's ``Mask2FormerHead``, then load the weights
        of a ``Pretrained`` ``init_cfg`` strictly."""
        init_cfgs = self.init_cfg or []
        if isinstance(init_cfgs, dict):
            init_cfgs = [init_cfgs]
        pretrained = [c for c in init_cfgs if c.get('type') == 'Pretrained']
        others = [c for c in init_cfgs if c.get('type') != 'Pretrained']
        if len(pretrained) > 1:
            raise ValueError('Mask2FormerSharedRepresentation: more than one '
                             f'`Pretrained` entry in `init_cfg`: {pretrained}')
        for m in self.decoder_input_projs:
            if isinstance(m, Conv2d):
                caffe2_xavier_init(m, bias=0)
        self.pixel_decoder.init_weights()
        for p in self.transformer_decoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        if others:
            # e.g. a `Constant`/`Normal` init of some layers, as mmengine's
            # BaseModule applies them
            initialize(self, others)
        if pretrained:
            load_pretrained_init_cfg(
                self, pretrained[0], ignore=self.IGNORED_KEYS)
        self._is_init = True

    def _forward_head(self, query: Tensor, mask_features: Tensor,
                      attn_size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """Mask logits of the queries and the next layer's attention mask
        (mmdet's ``Mask2FormerHead._forward_head`` without the class
        scores)."""
        query = self.transformer_decoder.post_norm(query)
        mask_embed = self.mask_embed(query)
        mask_logits = torch.einsum('bqc,bchw->bqhw', mask_embed, mask_features)
        attn_mask = F.interpolate(
            mask_logits, attn_size, mode='bilinear', align_corners=False)
        # (B, Q, h, w) -> (B * num_heads, Q, h * w); True = not attended
        attn_mask = attn_mask.flatten(2).unsqueeze(1).repeat(
            (1, self.num_heads, 1, 1)).flatten(0, 1)
        attn_mask = (attn_mask.sigmoid() < 0.5).detach()
        return mask_logits, attn_mask

    def mask_predictions(
            self, inputs: Sequence[Tensor]) -> Tuple[Tensor, List[Tensor]]:
        """The pixel decoder's mask features and every decoder layer's mask
        logits.

        Args:
            inputs (Sequence[Tensor]): The backbone's maps, fine to coarse.

        Returns:
            tuple[Tensor, list[Tensor]]: ``(mask_features, mask_logits)``:
            ``B x out_channels x h x w`` and ``num_layers + 1`` maps ``B x
            num_queries x h x w`` (from the initial queries, then after each
            layer) at the finest input's size.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f'Mask2FormerSharedRepresentation expects '
                f'{len(self.in_channels)} feature maps (`in_channels`), got '
                f'{len(inputs)}')
        for i, (x, c) in enumerate(zip(inputs, self.in_channels)):
            if x.shape[1] != c:
                raise ValueError(
                    f'Mask2FormerSharedRepresentation: input level {i} has '
                    f'{x.shape[1]} channels, `in_channels` says {c}')
        batch_size = inputs[0].shape[0]
        mask_features, memories = self.pixel_decoder(list(inputs))
        # memories: from low resolution to high resolution
        keys, key_pos = [], []
        for i in range(self.num_transformer_feat_level):
            key = self.decoder_input_projs[i](memories[i])
            key = key.flatten(2).permute(0, 2, 1)
            key = key + self.level_embed.weight[i].view(1, 1, -1)
            no_padding = key.new_zeros(
                (batch_size, ) + memories[i].shape[-2:], dtype=torch.bool)
            pos = self.decoder_positional_encoding(no_padding)
            keys.append(key)
            key_pos.append(pos.flatten(2).permute(0, 2, 1))
        query = self.query_feat.weight.unsqueeze(0).repeat(batch_size, 1, 1)
        query_pos = self.query_embed.weight.unsqueeze(0).repeat(
            batch_size, 1, 1)

        mask_logits, attn_mask = self._forward_head(
            query, mask_features, memories[0].shape[-2:])
        all_logits = [mask_logits]
        for i in range(self.num_transformer_decoder_layers):
            level = i % self.num_transformer_feat_level
            # a query that masks out every position attends everywhere
            attn_mask = attn_mask & (attn_mask.sum(-1) !=
                                     attn_mask.shape[-1]).unsqueeze(-1)
            query = self.transformer_decoder.layers[i](
                query=query,
                key=keys[level],
                value=keys[level],
                query_pos=query_pos,
                key_pos=key_pos[level],
                cross_attn_mask=attn_mask,
                query_key_padding_mask=None,
                key_padding_mask=None)
            next_level = (i + 1) % self.num_transformer_feat_level
            mask_logits, attn_mask = self._forward_head(
                query, mask_features, memories[next_level].shape[-2:])
            all_logits.append(mask_logits)
        return mask_features, all_logits

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor]:
        """The shared representation of the release.

        Args:
            inputs (Sequence[Tensor]): The backbone's maps, fine to coarse.

        Returns:
            tuple[Tensor]: ``(mask_features * mask_logits.sum(queries),)``
            with the last decoder layer's mask logits, ``B x out_channels x
            h x w`` at the finest input's size.
        """
        mask_features, mask_logits = self.mask_predictions(inputs)
        weight = mask_logits[-1].sum(dim=1, keepdim=True)
        return (mask_features * weight, )
