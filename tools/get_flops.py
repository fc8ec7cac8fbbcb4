"""FLOPs, parameters and latency of a multi-task model's inference path.

The command line of :mod:`model_complexity` and :mod:`model_latency`
(``tools/analysis_tools/``), which say in full what is counted and timed:

- **FLOPs** of ``model(inputs, mode='tensor')`` (backbone, neck and head
  without side outputs, as mmseg's ``get_flops.py``), traced with mmengine's
  :class:`~mmengine.analysis.FlopAnalyzer` in its convention: **one fused
  multiply-add counts as one FLOP** (the numbers are multiply-adds, MACs),
  with ``aten::scaled_dot_product_attention`` and the Coherence Fusion
  Module's affinity counted on top of mmengine's handles. Element-wise and
  reduction operators are estimated and printed on a separate line; any
  operator without a handle is listed at the end of the output (``N calls
  of ops not counted: ...``): the FLOPs are then a lower bound.
- **Parameters** the inference forward reads (``params (inference)``,
  without training-only parts such as the contrastive regularizer's
  projectors or the MT-CP head's ``side_outputs``) and all of them
  (``params (total, incl. training-only)``).
- **Latency** (``--latency``): the model is built in eval mode, put on
  ``--device`` (CUDA when available, else CPU), and ``model.predict``
  (forward, resize to the input size, per-task activation; ``--forward
  tensor`` times the raw forward only) is run on random ``(B, 3, H, W)``
  inputs under ``torch.no_grad()``: ``--warmup`` untimed iterations, then
  ``--iters`` timed ones. Prints ms/image and images/s, the device and the
  number of torch threads. No checkpoint is needed: the weights do not
  change the cost.

``--cfg-options`` takes mmengine's ``KEY=VALUE`` syntax; a value with
spaces (e.g. a path) is kept as typed and a malformed option stops the tool
(:class:`mmmtcp.utils.config.CfgOptionsAction`).

Examples::

    # FLOPs and parameters at the NYUD-v2 size
    python tools/get_flops.py configs/mtcp/mtcp_vitl_nyud.py --shape 480 640

    # a ViT-S model without touching its pre-trained checkpoint path
    python tools/get_flops.py configs/mtcp/mtcp_vits_nyud.py \\
        --shape 480 640 --cfg-options model.backbone.init_cfg=None

    # latency / throughput of the CPU demo model, batch 4, on the CPU
    python tools/get_flops.py configs/mtcp/mtcp_demo_synthetic.py \\
        --shape 120 160 --latency --batch-size 4 --device cpu
"""
import argparse
import logging
import os.path as osp
import sys
from typing import Any, Dict, Optional, Sequence

import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

TOOLS = osp.dirname(osp.abspath(__file__))
# this checkout's mmmtcp first, whichever one the environment has installed
sys.path.insert(0, osp.dirname(TOOLS))
# the counting and timing helpers live with the analysis tools
HELPERS = osp.join(TOOLS, 'analysis_tools')
if HELPERS not in sys.path:
    sys.path.insert(0, HELPERS)
import mmmtcp  # noqa: F401,E402  # isort:skip
from mmmtcp.utils.config import CfgOptionsAction  # noqa: E402  # isort:skip
from model_complexity import complexity, report  # noqa: E402
from model_latency import benchmark, benchmark_report  # noqa: E402

__all__ = [
    'parse_args', 'build_model', 'main', 'complexity', 'report', 'benchmark',
    'benchmark_report'
]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='FLOPs and parameters of the inference path, or its '
        'latency / throughput (--latency)')
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape',
                        type=int,
                        nargs=2,
                        default=[480, 640],
                        help='input H W')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of the config, key=value pairs (a value '
        'with spaces, e.g. a path, is kept as typed)')
    parser.add_argument(
        '--latency',
        '--benchmark',
        dest='latency',
        action='store_true',
        help='measure latency and throughput instead of counting FLOPs')
    parser.add_argument('--batch-size',
                        type=int,
                        default=1,
                        help='batch size (--latency)')
    parser.add_argument('--warmup',
                        type=int,
                        default=5,
                        help='untimed warm-up iterations (--latency)')
    parser.add_argument('--iters',
                        type=int,
                        default=20,
                        help='timed iterations (--latency)')
    parser.add_argument(
        '--device',
        default=None,
        help="device of --latency, e.g. 'cpu', 'cuda', 'cuda:1' (default: "
        'cuda when available, else cpu)')
    parser.add_argument(
        '--forward',
        choices=('predict', 'tensor'),
        default='predict',
        help="what --latency times: 'predict' (forward, resize to the input "
        "size and activation, as at test time) or 'tensor' (raw forward)")
    args = parser.parse_args(argv)
    if min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape}')
    for name in ('batch_size', 'iters'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    return args


def build_model(config: str,
                cfg_options: Optional[Dict[str, Any]] = None) -> nn.Module:
    """Build the config's model (no checkpoint is loaded).

    Args:
        config (str): Config file.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        nn.Module: The model, SyncBN reverted to BN, in eval mode.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    return revert_sync_batchnorm(model).eval()


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the tool.

    Args:
        argv (Sequence[str], optional): Command-line arguments.

    Returns:
        dict: Output of :func:`complexity` or, with ``--latency``, of
        :func:`benchmark`.
    """
    args = parse_args(argv)
    # keep the output to the summary: build-time info logs are not needed
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model = build_model(args.config, args.cfg_options)
        if args.latency:
            result = benchmark(model, args.shape, args.batch_size, args.warmup,
                               args.iters, args.device, args.forward)
            print(benchmark_report(result))
        else:
            result = complexity(model, args.shape)
            print(report(result, args.shape))
    finally:
        logger.setLevel(level)
    return result


if __name__ == '__main__':
    main()
