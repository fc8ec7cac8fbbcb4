"""``tools/get_flops.py``: attention is counted, ops without a handle are
reported in a short summary, parameters of the inference path are told
apart from training-only ones, and ``--latency`` measures images/s."""
import math
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmmtcp.models.layers import CoherenceFusionModule
from mmseg.registry import MODELS
from tool_runs import ROOT, load_tool, run

CONFIGS = osp.join(ROOT, 'configs')
DEMO = osp.join(CONFIGS, 'mtcp', 'mtcp_demo_synthetic.py')
CONTRASTIVE = osp.join(CONFIGS, 'contrastive',
                       'contrastive_mtcp_demo_synthetic.py')
SHAPE = (64, 96)
SDPA = 'aten::scaled_dot_product_attention'
AFFINITY = 'prim::PythonOp._RowBlockAffinity'


def _load_get_flops():
    return load_tool('get_flops')


@pytest.fixture(scope='module')
def get_flops():
    return _load_get_flops()


def _build(config):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(config).model).eval()


class _Attention(nn.Module):
    """Splits a ``(1, 3, H, W)`` input into fixed-shape q, k, v and calls
    SDPA on them (the only op with a cost besides a scale multiply)."""

    def __init__(self, q_shape, k_shape, v_shape):
        super().__init__()
        self.shapes = (q_shape, k_shape, v_shape)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        flat = (x * self.scale).flatten()
        q, k, v, start = [], [], [], 0
        for shape, out in zip(self.shapes, (q, k, v)):
            n = math.prod(shape)
            out.append(flat[start:start + n].reshape(shape))
            start += n
        return F.scaled_dot_product_attention(q[0], k[0], v[0])


@pytest.mark.parametrize(
    'shapes',
    [
        # (B, heads, L, E): 2 * 3 * 5 * 7 * (4 + 6) multiply-adds
        ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6), 2 * 3 * 5 * 7 * (4 + 6)),
        # no head dimension, Lq != Lk, E > Ev (a CFM with fuse > channels)
        ((1, 9, 8), (1, 4, 8), (1, 4, 2), 1 * 9 * 4 * (8 + 2)),
    ])
def test_sdpa_handle_counts_both_products(get_flops, shapes):
    q_shape, k_shape, v_shape, expected = shapes
    module = _Attention(q_shape, k_shape, v_shape)
    inputs = torch.zeros(1, 3, 16, 16)
    # mmengine's own handles skip the op entirely: 0 FLOPs
    plain = FlopAnalyzer(module, (inputs, )).unsupported_ops_warnings(
        False).uncalled_modules_warnings(False)
    assert plain.total() == 0
    assert plain.unsupported_ops()[SDPA] == 1

    result = get_flops.complexity(module, (16, 16))
    assert result['flops'] == expected
    assert result['attention_flops'] == expected
    assert result['attention_calls'] == 1
    assert not result['unsupported_ops']
    assert result['params'] == result['params_total'] == 1


def test_demo_model_attention_counted_exactly(get_flops, capsys):
    model = _build(DEMO)
    # attention by hand: every CFM attends from all H*W positions to the
    # average-pooled ones, over fuse features for Q K^T and channels for
    # A V (impl='auto' is the row-block kernel on the CPU: no padding)
    expected_attention = []

    def hand_count(module, args, output):
        x = args[0]
        b, c, h, w = x.shape
        ds = module.attn_downsample
        m = math.ceil(h / ds) * math.ceil(w / ds)
        d = module.fuse.conv.out_channels
        expected_attention.append(b * h * w * m * (d + c))

    handles = [
        m.register_forward_hook(hand_count) for m in model.modules()
        if isinstance(m, CoherenceFusionModule)
    ]
    with torch.no_grad():
        model(torch.zeros(1, 3, *SHAPE), mode='tensor')
    for handle in handles:
        handle.remove()
    assert len(expected_attention) == 4

    # the rest: mmengine's default handles (the old tool's number)
    rest = FlopAnalyzer(model, (torch.zeros(1, 3, *SHAPE), ))
    rest.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        rest_flops = rest.total()
    assert rest.unsupported_ops()[AFFINITY] == 4

    capsys.readouterr()
    result = get_flops.complexity(model, SHAPE)
    assert result['flops'] == rest_flops + sum(expected_attention)
    assert result['attention_flops'] == sum(expected_attention)
    assert result['attention_calls'] == 4
    assert AFFINITY not in result['unsupported_ops']
    assert not result['unsupported_ops']
    # about a fifth of this model's cost at this small size
    assert result['attention_flops'] > 0.15 * result['flops']
    # the element-wise estimate is reported apart, not added to the FLOPs
    assert result['elementwise_ops'] > 0
    assert result['elementwise_calls']['aten::sigmoid'] > 0
    # no per-op log lines of mmengine's counter
    captured = capsys.readouterr()
    assert 'Unsupported operator' not in captured.out + captured.err
    assert 'never called' not in captured.out + captured.err


def test_ops_without_handle_are_summarized(get_flops, capsys):

    class Inverse(nn.Module):

        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.eye(4))

        def forward(self, x):
            m = x[0, 0, :4, :4] + self.weight
            return torch.linalg.inv(m) @ m

    result = get_flops.complexity(Inverse(), (4, 4))
    assert result['unsupported_ops'] == {'aten::linalg_inv': 1}
    assert result['flops'] == 4 * 4 * 4  # the matmul
    text = get_flops.report(result, (4, 4))
    last = text.splitlines()[-1]
    assert last.startswith('WARNING: 1 calls of ops not counted: '
                           'aten::linalg_inv x1')
    captured = capsys.readouterr()
    assert 'Unsupported operator' not in captured.out + captured.err


def _inference_params_by_autograd(model):
    """Parameters the tensor-mode outputs depend on (independent check)."""
    params = list(model.parameters())
    with torch.enable_grad():
        outs = model(torch.zeros(1, 3, *SHAPE), mode='tensor')
        total = sum(o.sum() for o in outs.values())
        grads = torch.autograd.grad(total, params, allow_unused=True)
    return sum(p.numel() for p, g in zip(params, grads) if g is not None)


def test_params_of_inference_path(get_flops):
    model = _build(CONTRASTIVE)
    assert model.with_regularizer
    head = model.decode_head
    # training only: the contrastive projectors, the deep-supervision
    # outputs and the trace-back's coarse prediction projections (they
    # feed the side outputs only)
    training_only = list(model.regularizers.parameters()) + list(
        head.side_outputs.parameters())
    for srm in head.srms.values():
        for step in srm.steps[:-1]:
            training_only += list(step.pred_proj.parameters())
    num_training_only = sum(p.numel() for p in training_only)
    assert sum(p.numel() for p in model.regularizers.parameters()) > 0

    result = get_flops.complexity(model, SHAPE)
    total = sum(p.numel() for p in model.parameters())
    assert result['params'] == total - num_training_only
    assert result['params_total'] == total
    assert result['params'] == _inference_params_by_autograd(model)
    assert 'regularizers' in result['training_only_modules']
    assert 'decode_head.side_outputs' in result['training_only_modules']
    text = get_flops.report(result, SHAPE)
    assert f"Params (inference): {result['params_str']}" in text
    assert 'Params (total, incl. training-only)' in text


def test_cli_prints_summary(get_flops, capsys):
    result = get_flops.main([DEMO, '--shape', *map(str, SHAPE)])
    out = capsys.readouterr().out
    assert f"FLOPs: {result['flops_str']} ({result['flops']})" in out
    assert '1 fused multiply-add = 1 FLOP' in out
    assert ('aten::scaled_dot_product_attention and the CFM affinity, 4 '
            'calls') in out
    assert out.strip().splitlines()[-1].startswith('0 calls of ops not '
                                                   'counted')
    assert 'WARNING' not in out


def test_latency_mode_subprocess():
    tool = osp.join('tools', 'get_flops.py')
    args = [
        tool, DEMO, '--shape', '64', '96', '--latency', '--iters', '2',
        '--warmup', '1', '--batch-size', '2', '--device', 'cpu'
    ]
    proc = run(args, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    assert 'Device: cpu' in out
    assert 'torch threads: 1' in out  # OMP_NUM_THREADS=1 of the runner
    assert 'Input: (2, 3, 64, 96)' in out
    ms = float(re.search(r'Latency: ([\d.]+) ms/image', out).group(1))
    ips = float(re.search(r'Throughput: ([\d.]+) images/s', out).group(1))
    assert ms > 0 and ips > 0
    assert ips == pytest.approx(1000.0 / ms, rel=0.02, abs=0.01)


def test_benchmark_function_defaults_to_available_device(get_flops):
    model = _build(DEMO)
    result = get_flops.benchmark(model,
                                 SHAPE,
                                 batch_size=1,
                                 warmup=0,
                                 iters=1,
                                 forward='tensor')
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert result['device'].startswith(expected)
    assert result['images_per_s'] > 0
    assert result['threads'] == torch.get_num_threads()


def test_cfg_options_keep_spaces_and_refuse_malformed(get_flops):
    """``--cfg-options`` is the project's parser: a value with spaces is
    kept as typed, an argument without ``=`` stops the tool."""
    args = get_flops.parse_args(
        [DEMO, '--cfg-options', 'work_dir=/tmp/a b', 'model.x=2'])
    assert args.cfg_options == {'work_dir': '/tmp/a b', 'model.x': 2}
    with pytest.raises(SystemExit):
        get_flops.parse_args([DEMO, '--cfg-options', 'foo'])
