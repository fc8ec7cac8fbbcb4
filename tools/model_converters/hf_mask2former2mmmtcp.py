"""Convert Hugging Face's Mask2Former (Swin backbone) to the Mask2Former trunk.

The released MT-CP code runs Hugging Face's
``Mask2FormerForUniversalSegmentation`` of
``facebook/mask2former-swin-small-ade-semantic``. This tool reads that
model's weights (``pytorch_model.bin`` through mmmtcp's safe loader, or
``model.safetensors`` with the ``safetensors`` package; or the folder
holding them) and writes a checkpoint in the names of mmseg's Mask2Former
(``{'meta': ..., 'state_dict': ...}``):

- ``backbone.*``: mmseg's ``SwinTransformer``
  (``model.pixel_level_module.encoder.*``),
- ``decode_head.*``: the pixel decoder and the transformer decoder as
  mmseg's ``Mask2FormerHead`` names them (``model.pixel_level_module.
  decoder.*``, ``model.transformer_module.*``),

so that the trunk of ``configs/_base_/backbones/mask2former_swin_s.py``
(``StrictSwinTransformer``, mmseg's ``SwinTransformer`` loading strictly,
and ``Mask2FormerSharedRepresentation``) loads it exactly as mmseg's own
Mask2Former checkpoint: the backbone with ``init_cfg=dict(type='Pretrained',
checkpoint=PATH, prefix='backbone.')``, the neck with
``init_cfg=dict(type='Pretrained', checkpoint=PATH,
prefix='decode_head.')``.

Not converted: the class head ``class_predictor.*`` (the trunk has none:
the release computes class scores but never uses them; mmseg's
``cls_embed``) and the loss's ``criterion.empty_weight``. They are listed in
the output's ``meta['dropped']``.

Correspondence (checked numerically by the tests on random models):

- Swin: ``embeddings.patch_embeddings.projection`` / ``embeddings.norm`` ->
  ``patch_embed.projection`` / ``patch_embed.norm``; block ``layernorm_
  before`` / ``layernorm_after`` -> ``norm1`` / ``norm2``; the separate
  ``attention.self.{query,key,value}`` are concatenated (in that order) into
  ``attn.w_msa.qkv``; ``attention.output.dense`` -> ``attn.w_msa.proj``;
  ``intermediate.dense`` / ``output.dense`` -> ``ffn.layers.0.0`` /
  ``ffn.layers.1``; ``hidden_states_norms.stage<i+1>`` -> ``norm<i>``.
  Patch merging: Hugging Face concatenates the 2x2 neighbours as
  ``[(0,0), (1,0), (0,1), (1,1)]`` (row, column offsets) blocks of channels,
  mmseg's ``nn.Unfold`` channel by channel in the order ``(0,0), (0,1),
  (1,0), (1,1)``: the input channels of ``downsample.reduction`` and the
  ``downsample.norm`` weights are reordered (as mmseg's
  ``swin2mmseg.py``). Both pad the patch embedding, the windows and the
  merging at the bottom and right, and Hugging Face's ``SwinBackbone``
  always partitions windows (``always_partition=True``), as mmseg, even
  where a map is smaller than a window.
- Pixel decoder: ``input_projections.<i>.{0,1}`` -> ``input_convs.<i>.
  {conv,gn}`` (coarse to fine in both), ``adapter_1`` / ``layer_1`` ->
  ``lateral_convs.0`` / ``output_convs.0``, ``mask_projection`` ->
  ``mask_feature``, ``level_embed`` -> ``level_encoding.weight``; encoder
  layers: ``self_attn.*`` (deformable attention, same names),
  ``self_attn_layer_norm`` / ``final_layer_norm`` -> ``norms.0`` /
  ``norms.1``, ``fc1`` / ``fc2`` -> ``ffn.layers.0.0`` / ``ffn.layers.1``.
- Transformer decoder: ``queries_features`` / ``queries_embedder`` ->
  ``query_feat`` / ``query_embed``, ``level_embed`` -> ``level_embed``,
  ``decoder.layernorm`` -> ``transformer_decoder.post_norm``,
  ``decoder.mask_predictor.mask_embedder.<i>.0`` -> ``mask_embed.<2i>``.
  A Hugging Face layer runs masked cross-attention, self-attention, FFN,
  each followed by its norm, as mmdet's ``Mask2FormerTransformerDecoder
  Layer``: ``cross_attn`` (a ``nn.MultiheadAttention``) ->
  ``cross_attn.attn``, ``cross_attn_layer_norm`` -> ``norms.0``; the
  separate ``self_attn.{q,k,v}_proj`` are concatenated into
  ``self_attn.attn.in_proj_*``, ``self_attn.out_proj`` -> ``self_attn.attn.
  out_proj``, ``self_attn_layer_norm`` -> ``norms.1``; ``fc1`` / ``fc2`` /
  ``final_layer_norm`` -> ``ffn.layers.0.0`` / ``ffn.layers.1`` /
  ``norms.2``. Hugging Face's ``decoder_layers`` counts one more (the
  prediction from the initial queries). The sine position encodings have no
  weights. Hugging Face keeps its decoder's input projections in a plain
  list, so they are never saved: they are identities when ``hidden_dim``
  equals ``feature_size`` (the released model); otherwise the checkpoint
  cannot be converted (the trunk's ``decoder_input_projs`` are missing).

The result is checked against the trunk it is meant for before anything is
written: ``--arch`` (default ``swin-s``: the trunk of
``configs/_base_/backbones/mask2former_swin_s.py``; ``swin-t``, ``swin-b``
and ``swin-l`` change its Swin) or ``--config`` (a config whose ``model``,
or whose one dict with a ``backbone`` and a ``neck``, gives the trunk). A
checkpoint of another size (e.g. a Swin-T Mask2Former for the Swin-S trunk:
mmseg's Swin loads its weights non-strictly and would leave blocks at their
initialization), weights missing after the conversion, weights the
conversion does not know or of another shape are errors naming the file;
the output is written to a temporary file in its folder and renamed when
complete.

Usage::

    python tools/model_converters/hf_mask2former2mmmtcp.py \\
        mask2former-swin-small-ade-semantic/pytorch_model.bin \\
        checkpoints/mask2former_swin-s_ade20k_hf.pth
    # another trunk: --arch swin-t | swin-b | swin-l, or
    #   --config CONFIG [--cfg-options KEY=VALUE ...]

Then load it into the trunk, e.g. with ``--cfg-options
model.backbone.init_cfg.checkpoint=PATH model.neck.init_cfg.checkpoint=PATH``.
It prints the output's path on its last line.
"""
import argparse
import math
import os
import os.path as osp
import pickle
import re
import sys
import tempfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.models.backbones import SwinTransformer
from mmseg.registry import MODELS

TOOLS = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(TOOLS))
# this checkout's mmmtcp first, whichever one the environment has installed
sys.path.insert(0, ROOT)
import mmmtcp  # noqa: F401,E402  # isort:skip
from mmmtcp.utils import (BrokenCheckpointError,  # noqa: E402  # isort:skip
                          CheckpointMismatchError, compare_shapes,
                          listed_keys, safe_torch_load)
from mmmtcp.utils.config import CfgOptionsAction  # noqa: E402  # isort:skip

#: Key prefixes of Hugging Face's Mask2FormerForUniversalSegmentation.
HF_SWIN = 'model.pixel_level_module.encoder.'
HF_PIXEL_DECODER = 'model.pixel_level_module.decoder.'
HF_TRANSFORMER = 'model.transformer_module.'
#: Its weights the trunk has no use for: the class head and the loss's
#: class weights.
DROPPED = ('class_predictor.', 'criterion.')
#: The trunk config of ``--arch swin-s`` (and the base of the other sizes).
TRUNK_CONFIG = osp.join(ROOT, 'configs', '_base_', 'backbones',
                        'mask2former_swin_s.py')
#: Swin sizes of Hugging Face's Mask2Former checkpoints (Swin-B and Swin-L
#: are the 384-pretrained backbones, window 12).
SWIN_SIZES = {
    'swin-t': dict(embed_dims=96, depths=(2, 2, 6, 2),
                   num_heads=(3, 6, 12, 24), window_size=7),
    'swin-s': dict(embed_dims=96, depths=(2, 2, 18, 2),
                   num_heads=(3, 6, 12, 24), window_size=7),
    'swin-b': dict(embed_dims=128, depths=(2, 2, 18, 2),
                   num_heads=(4, 8, 16, 32), window_size=12),
    'swin-l': dict(embed_dims=192, depths=(2, 2, 18, 2),
                   num_heads=(6, 12, 24, 48), window_size=12),
}

_N = r'(\d+)'
_P = r'(weight|bias)'
#: Hugging Face Swin (after ``HF_SWIN``) -> mmseg's SwinTransformer; the
#: patch-merging weights are reordered, query/key/value fused.
SWIN_RULES = [
    (r'embeddings\.patch_embeddings\.projection\.' + _P,
     r'patch_embed.projection.\1'),
    (r'embeddings\.norm\.' + _P, r'patch_embed.norm.\1'),
    (rf'encoder\.layers\.{_N}\.blocks\.{_N}\.layernorm_before\.{_P}',
     r'stages.\1.blocks.\2.norm1.\3'),
    (rf'encoder\.layers\.{_N}\.blocks\.{_N}\.attention\.self\.'
     r'(relative_position_bias_table|relative_position_index)',
     r'stages.\1.blocks.\2.attn.w_msa.\3'),
    (rf'encoder\.layers\.{_N}\.blocks\.{_N}\.attention\.output\.dense\.'
     + _P, r'stages.\1.blocks.\2.attn.w_msa.proj.\3'),
    (rf'encoder\.layers\.{_N}\.blocks\.{_N}\.layernorm_after\.{_P}',
     r'stages.\1.blocks.\2.norm2.\3'),
    (rf'encoder\.layers\.{_N}\.blocks\.{_N}\.intermediate\.dense\.{_P}',
     r'stages.\1.blocks.\2.ffn.layers.0.0.\3'),
    (rf'encoder\.layers\.{_N}\.blocks\.{_N}\.output\.dense\.{_P}',
     r'stages.\1.blocks.\2.ffn.layers.1.\3'),
    (rf'encoder\.layers\.{_N}\.downsample\.(reduction\.weight|norm\.'
     r'weight|norm\.bias)', r'stages.\1.downsample.\2'),
    # the norms of the 4 stage outputs
    (rf'hidden_states_norms\.stage{_N}\.{_P}',
     lambda m: f'norm{int(m.group(1)) - 1}.{m.group(2)}'),
]
#: Hugging Face pixel decoder (after ``HF_PIXEL_DECODER``) -> the neck's
#: ``pixel_decoder.`` (mmdet's MSDeformAttnPixelDecoder).
PIXEL_DECODER_RULES = [
    (r'level_embed', r'level_encoding.weight'),
    (rf'input_projections\.{_N}\.0\.{_P}', r'input_convs.\1.conv.\2'),
    (rf'input_projections\.{_N}\.1\.{_P}', r'input_convs.\1.gn.\2'),
    (r'adapter_1\.0\.' + _P, r'lateral_convs.0.conv.\1'),
    (r'adapter_1\.1\.' + _P, r'lateral_convs.0.gn.\1'),
    (r'layer_1\.0\.' + _P, r'output_convs.0.conv.\1'),
    (r'layer_1\.1\.' + _P, r'output_convs.0.gn.\1'),
    (r'mask_projection\.' + _P, r'mask_feature.\1'),
    (rf'encoder\.layers\.{_N}\.self_attn\.(sampling_offsets|'
     rf'attention_weights|value_proj|output_proj)\.{_P}',
     r'encoder.layers.\1.self_attn.\2.\3'),
    (rf'encoder\.layers\.{_N}\.self_attn_layer_norm\.{_P}',
     r'encoder.layers.\1.norms.0.\2'),
    (rf'encoder\.layers\.{_N}\.fc1\.{_P}',
     r'encoder.layers.\1.ffn.layers.0.0.\2'),
    (rf'encoder\.layers\.{_N}\.fc2\.{_P}',
     r'encoder.layers.\1.ffn.layers.1.\2'),
    (rf'encoder\.layers\.{_N}\.final_layer_norm\.{_P}',
     r'encoder.layers.\1.norms.1.\2'),
]
#: Hugging Face transformer module (after ``HF_TRANSFORMER``) -> the neck;
#: the self-attention's q/k/v projections are fused.
TRANSFORMER_RULES = [
    (r'queries_embedder\.weight', r'query_embed.weight'),
    (r'queries_features\.weight', r'query_feat.weight'),
    (r'level_embed\.weight', r'level_embed.weight'),
    (rf'input_projections\.{_N}\.{_P}', r'decoder_input_projs.\1.\2'),
    (r'decoder\.layernorm\.' + _P, r'transformer_decoder.post_norm.\1'),
    # Linear, ReLU, Linear, ReLU, Linear in one nn.Sequential in mmdet
    (rf'decoder\.mask_predictor\.mask_embedder\.{_N}\.0\.{_P}',
     lambda m: f'mask_embed.{2 * int(m.group(1))}.{m.group(2)}'),
    (rf'decoder\.layers\.{_N}\.cross_attn\.(in_proj_weight|in_proj_bias)',
     r'transformer_decoder.layers.\1.cross_attn.attn.\2'),
    (rf'decoder\.layers\.{_N}\.cross_attn\.out_proj\.{_P}',
     r'transformer_decoder.layers.\1.cross_attn.attn.out_proj.\2'),
    (rf'decoder\.layers\.{_N}\.cross_attn_layer_norm\.{_P}',
     r'transformer_decoder.layers.\1.norms.0.\2'),
    (rf'decoder\.layers\.{_N}\.self_attn\.out_proj\.{_P}',
     r'transformer_decoder.layers.\1.self_attn.attn.out_proj.\2'),
    (rf'decoder\.layers\.{_N}\.self_attn_layer_norm\.{_P}',
     r'transformer_decoder.layers.\1.norms.1.\2'),
    (rf'decoder\.layers\.{_N}\.fc1\.{_P}',
     r'transformer_decoder.layers.\1.ffn.layers.0.0.\2'),
    (rf'decoder\.layers\.{_N}\.fc2\.{_P}',
     r'transformer_decoder.layers.\1.ffn.layers.1.\2'),
    (rf'decoder\.layers\.{_N}\.final_layer_norm\.{_P}',
     r'transformer_decoder.layers.\1.norms.2.\2'),
]
#: Separate projections concatenated (in the order of ``part``) into one
#: weight: (prefix, pattern with a ``part`` group, parts, fused name).
FUSED = [
    (HF_SWIN, r'encoder\.layers\.(?P<stage>\d+)\.blocks\.(?P<block>\d+)\.'
     r'attention\.self\.(?P<part>query|key|value)\.(?P<param>weight|bias)',
     ('query', 'key', 'value'),
     r'backbone.stages.\g<stage>.blocks.\g<block>.attn.w_msa.qkv.\g<param>'),
    (HF_TRANSFORMER, r'decoder\.layers\.(?P<layer>\d+)\.self_attn\.'
     r'(?P<part>q|k|v)_proj\.(?P<param>weight|bias)', ('q', 'k', 'v'),
     r'decode_head.transformer_decoder.layers.\g<layer>.self_attn.attn.'
     r'in_proj_\g<param>'),
]


def _natural(key: str) -> list:
    """Sort key: ``layers.10`` after ``layers.9``."""
    return [(0, int(p), '') if p.isdigit() else (1, 0, p)
            for p in key.split('.')]


def _unfold_reduction(weight: torch.Tensor) -> torch.Tensor:
    """Patch-merging reduction weight: input channels from Hugging Face's
    block order to mmseg's ``nn.Unfold`` order."""
    out_channels, in_channels = weight.shape
    weight = weight.reshape(out_channels, 4, in_channels // 4)
    return weight[:, [0, 2, 1, 3], :].transpose(1, 2).reshape(
        out_channels, in_channels).contiguous()


def _unfold_norm(weight: torch.Tensor) -> torch.Tensor:
    """Patch-merging norm weight or bias, reordered as
    :func:`_unfold_reduction`."""
    in_channels = weight.shape[0]
    weight = weight.reshape(4, in_channels // 4)
    return weight[[0, 2, 1, 3], :].transpose(0, 1).reshape(
        in_channels).contiguous()


def read_hf_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The weights of a Hugging Face checkpoint.

    Args:
        path (str): ``pytorch_model.bin`` (read with
            :func:`mmmtcp.utils.safe_torch_load`), ``model.safetensors``
            (needs the ``safetensors`` package) or the folder holding one
            of them (the safetensors file first when the package is
            installed).

    Returns:
        dict: ``{name: tensor}``.
    """
    if osp.isdir(path):
        try:
            import safetensors  # noqa: F401
            names = ('model.safetensors', 'pytorch_model.bin')
        except ImportError:
            names = ('pytorch_model.bin', 'model.safetensors')
        found = [osp.join(path, n) for n in names
                 if osp.isfile(osp.join(path, n))]
        if not found:
            sharded = [n for n in os.listdir(path)
                       if n.endswith('.index.json')]
            raise FileNotFoundError(
                f'{path} holds neither model.safetensors nor '
                'pytorch_model.bin' + (
                    f' (sharded checkpoints, {sharded[0]}, are not read)'
                    if sharded else ''))
        path = found[0]
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise ImportError(
                f'Reading {path} needs the safetensors package (pip install '
                'safetensors); or convert the pytorch_model.bin of the same '
                'model') from None
        try:
            return dict(load_file(path, device='cpu'))
        except Exception as e:  # safetensors' own error type
            raise BrokenCheckpointError(
                f'{path} is not a readable safetensors file '
                f'({type(e).__name__}: {e})') from None
    loaded = safe_torch_load(path, map_location='cpu')
    if isinstance(loaded, dict):
        for key in ('state_dict', 'model'):
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict):
        raise CheckpointMismatchError(
            f'{path} holds a {type(loaded).__name__}, not a dict of weights')
    return {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}


def _relative_position_index(window: int) -> torch.Tensor:
    """Swin's relative position index of a ``window x window`` window (the
    same buffer in Hugging Face's and mmseg's Swin)."""
    coords = torch.stack(
        torch.meshgrid(torch.arange(window), torch.arange(window),
                       indexing='ij')).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    relative = relative + (window - 1)
    return relative[:, :, 0] * (2 * window - 1) + relative[:, :, 1]


def convert_state_dict(hf_state: Dict[str, torch.Tensor],
                       name: str = 'the checkpoint'
                       ) -> Tuple[OrderedDict, List[str]]:
    """Rename (and reorder, fuse) Hugging Face's Mask2Former weights.

    Args:
        hf_state (dict): The weights of a
            ``Mask2FormerForUniversalSegmentation`` (or of a
            ``Mask2FormerModel``: keys without ``model.``) with a Swin
            backbone.
        name (str): The checkpoint, for messages.

    Returns:
        tuple[OrderedDict, list[str]]: The weights under ``backbone.`` and
        ``decode_head.`` and the dropped keys (class head, loss).

    Raises:
        CheckpointMismatchError: If it is not a Hugging Face Mask2Former
            with a Swin backbone, or holds weights the conversion does not
            know.
    """
    if any(k.startswith(('pixel_level_module.', 'transformer_module.'))
           for k in hf_state):
        hf_state = {('model.' + k if k.startswith(
            ('pixel_level_module.', 'transformer_module.')) else k): v
                    for k, v in hf_state.items()}
    heads = sorted({f"'{k.split('.', 1)[0]}.'" for k in hf_state})
    if not any(k.startswith(HF_TRANSFORMER) for k in hf_state) or not any(
            k.startswith(HF_PIXEL_DECODER) for k in hf_state):
        raise CheckpointMismatchError(
            f'{name} is not a Hugging Face Mask2Former checkpoint: it has no '
            f"'{HF_PIXEL_DECODER}*' and '{HF_TRANSFORMER}*' weights (its "
            f'{len(hf_state)} keys start with {listed_keys(heads)})')
    if not any(k.startswith(HF_SWIN + 'embeddings.patch_embeddings.')
               for k in hf_state):
        parts = sorted({f"'{k[len(HF_SWIN):].split('.', 1)[0]}.'"
                        for k in hf_state if k.startswith(HF_SWIN)})
        raise CheckpointMismatchError(
            f'{name} is a Hugging Face Mask2Former whose backbone is not a '
            f"Swin (no '{HF_SWIN}embeddings.patch_embeddings.*'; its "
            f"backbone's keys start with {listed_keys(parts) or 'nothing'})")
    out = {}
    used = set()
    for prefix, pattern, parts, fused in FUSED:
        groups = {}
        for key in hf_state:
            match = key.startswith(prefix) and re.fullmatch(
                pattern, key[len(prefix):])
            if match:
                groups.setdefault(match.expand(fused),
                                  {})[match.group('part')] = key
        for target, found in groups.items():
            used.update(found.values())
            if len(found) == len(parts):  # else reported as missing
                out[target] = torch.cat([hf_state[found[p]] for p in parts])
    for prefix, rules, head in ((HF_SWIN, SWIN_RULES, 'backbone.'),
                                (HF_PIXEL_DECODER, PIXEL_DECODER_RULES,
                                 'decode_head.pixel_decoder.'),
                                (HF_TRANSFORMER, TRANSFORMER_RULES,
                                 'decode_head.')):
        for key, value in hf_state.items():
            if not key.startswith(prefix) or key in used:
                continue
            for pattern, repl in rules:
                match = re.fullmatch(pattern, key[len(prefix):])
                if not match:
                    continue
                target = repl(match) if callable(repl) else match.expand(
                    repl)
                if target.endswith('downsample.reduction.weight'):
                    value = _unfold_reduction(value)
                elif '.downsample.norm.' in target:
                    value = _unfold_norm(value)
                out[head + target] = value
                used.add(key)
                break
    # the relative position index is a function of the window size (a
    # checkpoint saved without the buffer gets it)
    for key in [k for k in out if k.endswith('relative_position_bias_table')]:
        index_key = key.replace('relative_position_bias_table',
                                'relative_position_index')
        if index_key not in out:
            window = (math.isqrt(out[key].shape[0]) + 1) // 2
            out[index_key] = _relative_position_index(window)
    dropped = sorted(k for k in hf_state
                     if k not in used and k.startswith(DROPPED))
    unknown = sorted(k for k in hf_state
                     if k not in used and not k.startswith(DROPPED))
    if unknown:
        raise CheckpointMismatchError(
            f'{name}: {len(unknown)} weights of the Hugging Face Mask2Former '
            'are not converted (the trunk has no such weights; another '
            f'variant of the model?): {listed_keys(unknown)}')
    return OrderedDict(
        (k, out[k]) for k in sorted(out, key=_natural)), dropped


def describe(shapes: Dict[str, Sequence[int]]) -> Dict:
    """The architecture of a trunk from its weights' shapes (mmseg's
    names, ``backbone.`` and ``decode_head.``).

    Returns:
        dict: ``embed_dims``, ``depths``, ``num_heads``, ``window_size``
        of the Swin and ``num_queries``, ``feat_channels``,
        ``decoder_layers``, ``pixel_decoder_layers`` of the neck (None
        when the weights do not tell).
    """
    def count(pattern):
        found = {int(m.group(1)) for k in shapes
                 for m in [re.match(pattern, k)] if m}
        return max(found) + 1 if found else None

    stages = count(r'backbone\.stages\.(\d+)\.') or 0
    depths, heads, windows = [], [], set()
    for i in range(stages):
        depths.append(count(rf'backbone\.stages\.{i}\.blocks\.(\d+)\.'))
        table = shapes.get(
            f'backbone.stages.{i}.blocks.0.attn.w_msa.'
            'relative_position_bias_table')
        heads.append(table[1] if table is not None else None)
        if table is not None:
            windows.add((math.isqrt(table[0]) + 1) // 2)
    embed = shapes.get('backbone.patch_embed.projection.weight')
    queries = shapes.get('decode_head.query_feat.weight')
    return dict(
        embed_dims=embed[0] if embed is not None else None,
        depths=tuple(depths) if depths else None,
        num_heads=tuple(heads) if heads else None,
        window_size=windows.pop() if len(windows) == 1 else None,
        num_queries=queries[0] if queries is not None else None,
        feat_channels=queries[1] if queries is not None else None,
        decoder_layers=count(
            r'decode_head\.transformer_decoder\.layers\.(\d+)\.'),
        pixel_decoder_layers=count(
            r'decode_head\.pixel_decoder\.encoder\.layers\.(\d+)\.'))


def _size_name(arch: Dict) -> str:
    """``'Swin-S (embed_dims 96, depths (2, 2, 18, 2), ...)'``."""
    swin = {k: arch[k] for k in ('embed_dims', 'depths', 'num_heads',
                                 'window_size')}
    names = [n for n, s in SWIN_SIZES.items()
             if s['embed_dims'] == swin['embed_dims']
             and s['depths'] == swin['depths']]
    label = 'Swin-' + names[0].split('-')[1].upper() if names else 'Swin'
    return label + ' (' + ', '.join(f'{k} {v}' for k, v in arch.items()) \
        + ')'


def _plain(cfg) -> Dict:
    """A model config without ``_delete_`` and ``init_cfg`` (built, not
    initialized)."""
    if hasattr(cfg, 'to_dict'):
        cfg = cfg.to_dict()
    if isinstance(cfg, dict):
        return {k: _plain(v) for k, v in cfg.items()
                if k not in ('_delete_', 'init_cfg')}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_plain(v) for v in cfg)
    return cfg


def trunk_of_config(config: str,
                    cfg_options: Optional[Dict] = None) -> Dict:
    """The trunk (``backbone`` and ``neck`` configs) of a config file: its
    ``model``, or its one dict with a ``backbone`` and a ``neck`` (e.g.
    ``mask2former_swin_s`` of the trunk's base config)."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = cfg.get('model')
    if not (isinstance(model, dict) and 'backbone' in model
            and 'neck' in model):
        found = [v for v in cfg.values()
                 if isinstance(v, dict) and 'backbone' in v and 'neck' in v]
        if len(found) != 1:
            raise ValueError(
                f'{config} has no `model` with a backbone and a neck, and '
                f'{len(found)} other dicts with both: give the config of '
                'the trunk to convert for')
        model = found[0]
    return dict(backbone=_plain(model['backbone']),
                neck=_plain(model['neck']))


def trunk_of_arch(arch: str) -> Dict:
    """The trunk of ``--arch``: the one of ``TRUNK_CONFIG`` (Swin-S) with
    the Swin of that size."""
    if arch not in SWIN_SIZES:
        raise ValueError(f'unknown --arch {arch!r}; one of '
                         f'{sorted(SWIN_SIZES)}')
    trunk = trunk_of_config(TRUNK_CONFIG)
    size = SWIN_SIZES[arch]
    trunk['backbone'].update(size)
    trunk['neck']['in_channels'] = [size['embed_dims'] * 2**i
                                    for i in range(4)]
    return trunk


def trunk_shapes(trunk: Dict) -> Dict[str, Tuple[int, ...]]:
    """Shapes of the weights of a trunk, in the checkpoint's names.

    The neck is built on the meta device (nothing allocated); the Swin on
    the CPU (mmseg's builds its drop-path rates from a tensor), without
    loading anything.
    """
    backbone, neck = trunk['backbone'], trunk['neck']
    with DefaultScope.overwrite_default_scope('mmseg'):
        backbone_cls = MODELS.get(backbone.get('type'))
        if backbone_cls is None or not issubclass(backbone_cls,
                                                  SwinTransformer):
            raise ValueError(
                f"the trunk's backbone is {backbone.get('type')}, not "
                "mmseg's SwinTransformer")
        built = MODELS.build(backbone)
        with torch.device('meta'):
            head = MODELS.build(neck)
    shapes = OrderedDict(('backbone.' + k, tuple(v.shape))
                         for k, v in built.state_dict().items())
    shapes.update(('decode_head.' + k, tuple(v.shape))
                  for k, v in head.state_dict().items())
    return shapes


def check_against_trunk(state_dict: Dict[str, torch.Tensor],
                        expected: Dict[str, Tuple[int, ...]], name: str,
                        target: str) -> None:
    """Raise :class:`CheckpointMismatchError` naming ``name`` if the
    converted weights are not exactly the trunk's (``target`` names it)."""
    have = describe({k: tuple(v.shape) for k, v in state_dict.items()})
    want = describe(expected)
    differ = [f'{k} {have[k]} (trunk: {want[k]})' for k in want
              if have[k] is not None and want[k] is not None
              and have[k] != want[k]]
    if differ:
        raise CheckpointMismatchError(
            f'{name} is a Mask2Former of another size than {target}: '
            f'{"; ".join(differ)}. Checkpoint: {_size_name(have)}; '
            f'{target}: {_size_name(want)}. Convert it for the trunk it '
            'fits (--arch or --config).')
    missing, unexpected, mismatched = compare_shapes(
        {k: tuple(v.shape) for k, v in state_dict.items()}, expected)
    mismatched = [
        f'{k} {tuple(state_dict[k].shape)} (trunk {expected[k]})'
        for k in mismatched
    ]
    problems = []
    if missing:
        problems.append(f'{len(missing)} weights of the trunk are missing '
                        f'after the conversion: {listed_keys(missing)}')
    if unexpected:
        problems.append(f'{len(unexpected)} converted weights are not in '
                        f'the trunk: {listed_keys(unexpected)}')
    if mismatched:
        problems.append(f'{len(mismatched)} converted weights have another '
                        f'shape: {listed_keys(mismatched)}')
    if problems:
        raise CheckpointMismatchError(
            f'{name} does not convert to {target}: ' + '; '.join(problems))


def convert_checkpoint(src: str,
                       dst: str,
                       arch: Optional[str] = None,
                       config: Optional[str] = None,
                       cfg_options: Optional[Dict] = None,
                       trunk: Optional[Dict] = None) -> Dict:
    """Convert ``src`` for a trunk and write it to ``dst``.

    Args:
        src (str): Hugging Face checkpoint (see :func:`read_hf_state_dict`).
        dst (str): Output checkpoint; written to a temporary file in its
            folder and renamed when complete.
        arch (str, optional): Trunk of that Swin size (``SWIN_SIZES``).
        config (str, optional): Config file giving the trunk
            (:func:`trunk_of_config`), with ``cfg_options`` merged.
        trunk (dict, optional): The trunk's ``backbone`` and ``neck``
            configs. At most one of ``arch``, ``config`` and ``trunk``;
            default ``arch='swin-s'``.

    Returns:
        dict: The written checkpoint's ``meta``.

    Raises:
        CheckpointMismatchError: If ``src`` is not a Hugging Face
            Mask2Former with a Swin backbone, is of another size than the
            trunk, or its converted weights are missing, unknown or
            misshapen for the trunk. Nothing is written.
    """
    given = [x for x in (arch, config, trunk) if x is not None]
    if len(given) > 1:
        raise ValueError('give at most one of arch, config and trunk')
    if config is not None:
        trunk, target = trunk_of_config(config, cfg_options), \
            f'the trunk of {config}'
    elif trunk is not None:
        trunk, target = _plain(trunk), 'the given trunk'
    else:
        arch = arch or 'swin-s'
        trunk, target = trunk_of_arch(arch), f'the {arch} trunk (--arch)'
    state_dict, dropped = convert_state_dict(read_hf_state_dict(src), src)
    check_against_trunk(state_dict, trunk_shapes(trunk), src, target)
    meta = dict(
        converted_from=osp.basename(osp.normpath(src)),
        source='Hugging Face Mask2FormerForUniversalSegmentation',
        architecture={
            k: list(v) if isinstance(v, tuple) else v
            for k, v in describe(
                {k: tuple(v.shape) for k, v in state_dict.items()}).items()
        },
        dropped=dropped)
    out_dir = osp.dirname(osp.abspath(dst))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(dst)}.', suffix='.tmp', dir=out_dir)
    os.close(fd)
    try:
        torch.save(dict(meta=meta, state_dict=state_dict), tmp)
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return meta


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Convert Hugging Face's Mask2Former (Swin backbone) to "
        "the Mask2Former trunk's checkpoint (mmseg's names)")
    parser.add_argument(
        'src', help='pytorch_model.bin, model.safetensors or their folder')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        '--arch', choices=sorted(SWIN_SIZES), default=None,
        help='the trunk of configs/_base_/backbones/mask2former_swin_s.py '
        'with a Swin of this size (default: swin-s)')
    target.add_argument(
        '--config', help='config giving the trunk (its `model`, or its one '
        'dict with a backbone and a neck)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override settings of --config, key=value pairs')
    args = parser.parse_args(argv)
    if args.cfg_options and not args.config:
        parser.error('--cfg-options applies to --config')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        meta = convert_checkpoint(args.src, args.dst, arch=args.arch,
                                  config=args.config,
                                  cfg_options=args.cfg_options)
    except (OSError, ImportError, ValueError, RuntimeError,
            pickle.UnpicklingError) as e:  # messages name the file
        print(f'error: {e}', file=sys.stderr)
        return 1
    arch = meta['architecture']
    dropped = meta['dropped']
    print(f'converted {args.src}: Swin embed_dims {arch["embed_dims"]}, '
          f'depths {arch["depths"]}, {arch["num_queries"]} queries, '
          f'{arch["decoder_layers"]} decoder layers; dropped '
          f'{len(dropped)} weights ({listed_keys(dropped, 4)})',
          flush=True)
    print(args.dst)
    return 0


if __name__ == '__main__':
    sys.exit(main())
