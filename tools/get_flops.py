"""Count the FLOPs and parameters of a multi-task model's inference path.

Training-only modules (``model.regularizers``, e.g. the contrastive
projectors) are not part of inference and are excluded from both numbers.

Example::

    python tools/get_flops.py configs/mtcp/mtcp_vitl_nyud.py --shape 480 640
"""
import argparse
from typing import Dict, Sequence

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmmtcp  # noqa: F401
from mmseg.registry import MODELS

TRAINING_ONLY = ('regularizers', )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs and parameters of the inference path')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[480, 640], help='H W')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='overrides')
    return parser.parse_args(argv)


def inference_parameters(model: torch.nn.Module) -> int:
    """Number of parameters outside the training-only modules."""
    return sum(p.numel() for name, p in model.named_parameters()
               if name.split('.')[0] not in TRAINING_ONLY)


def complexity(model: torch.nn.Module, shape: Sequence[int]) -> Dict:
    """FLOPs of ``model._forward`` on one ``(3, H, W)`` input.

    Args:
        model (nn.Module): A built multi-task segmentor.
        shape (Sequence[int]): ``(H, W)`` of the input.

    Returns:
        dict: ``flops`` (int), ``params`` (int, inference path only) and
        their human-readable strings.
    """
    model.eval()
    inputs = torch.zeros(1, 3, *shape)
    with torch.no_grad():
        info = get_model_complexity_info(
            model, inputs=(inputs, ), show_table=False, show_arch=False)
    params = inference_parameters(model)
    return dict(
        flops=info['flops'],
        flops_str=info['flops_str'],
        params=params,
        params_str=f'{params / 1e6:.3f}M')


def main(argv=None) -> Dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    result = complexity(model, args.shape)
    print(f'Input shape: (3, {args.shape[0]}, {args.shape[1]})')
    print(f"FLOPs: {result['flops_str']} ({result['flops']})")
    print(f"Params (inference path): {result['params_str']} "
          f"({result['params']})")
    return result


if __name__ == '__main__':
    main()
