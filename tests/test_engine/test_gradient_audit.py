"""Per-loss gradient audit: ``audit_gradients`` against hand-computed
gradients, the state it must leave untouched, ``GradientAuditHook`` in a
real Runner (training unchanged) and ``analyze_gradients.py``."""
import json
import math
import os
import os.path as osp
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.runner import Runner

from mmmtcp.datasets import generate_scenes
from mmmtcp.engine.gradient_audit import (audit_gradients, audit_record,
                                          classify_terms, scalar_name)
from tool_runs import ROOT, in_process_cfg

TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'analyze_gradients.py')
NYUD = ['semseg', 'depth', 'normals', 'edge']


class HandModel(BaseModel):
    """y = x W^T with W 2x3 (``backbone``); losses whose gradients w.r.t. W
    are written by hand in :func:`hand_gradients`."""

    def __init__(self, tasks=None):
        super().__init__(data_preprocessor=BaseDataPreprocessor())
        self.backbone = nn.Linear(3, 2, bias=False)
        self.head = nn.Linear(2, 1, bias=False)
        if tasks is not None:
            self.decode_head = nn.Module()
            self.decode_head.tasks = tasks

    def forward(self, inputs, data_samples=None, mode='tensor'):
        y = self.backbone(inputs)
        if mode != 'loss':
            return y
        return dict(
            loss_a=y[:, 0].sum(),
            loss_b=[y[:, 1].sum(), y[:, 1].sum()],  # a list: summed
            loss_a_aux0=0.5 * (y**2).sum(),
            loss_contrast_a=self.head(y.detach()).sum(),  # no path to W
            loss_const=torch.tensor(1.0),  # no grad: not a term
            acc=y.detach().sum())


def hand_gradients(model, x):
    """dL/dW of every term, float64: sum_n x_n in row 0 (loss_a), twice
    that in row 1 (loss_b), y^T x (the side term), zero (contrast)."""
    x = x.double().numpy()
    w = model.backbone.weight.detach().double().numpy()
    y = x @ w.T
    g_a = np.zeros((2, 3))
    g_a[0] = x.sum(0)
    g_b = np.zeros((2, 3))
    g_b[1] = 2 * x.sum(0)
    return dict(loss_a=g_a, loss_b=g_b, loss_a_aux0=y.T @ x,
                loss_contrast_a=np.zeros((2, 3)))


def cos(a, b):
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize('tasks', [None, ['a', 'b']])
def test_norms_cosines_and_groups_equal_hand_computation(tasks):
    torch.manual_seed(0)
    model = HandModel(tasks)
    x = torch.randn(5, 3)
    result = audit_gradients(model, dict(inputs=x), param_prefixes=(
        'backbone', ))
    g = hand_gradients(model, x)
    assert result['terms'] == ['loss_a', 'loss_a_aux0', 'loss_b',
                               'loss_contrast_a']
    assert result['kinds'] == dict(loss_a='main', loss_a_aux0='side',
                                   loss_b='main', loss_contrast_a='other')
    assert result['term_tasks']['loss_a_aux0'] == 'a'
    assert result['ignored'] == ['loss_const']
    assert result['num_params'] == 6
    for term, grad in g.items():
        assert result['norms'][term] == pytest.approx(np.linalg.norm(grad),
                                                      rel=1e-6, abs=1e-12)
    terms = result['terms']
    matrix = result['cosine']
    for i, a in enumerate(terms):
        for j, b in enumerate(terms):
            if 'contrast' in a or 'contrast' in b:
                assert math.isnan(matrix[i][j])  # no gradient path
            else:
                assert matrix[i][j] == pytest.approx(cos(g[a], g[b]),
                                                     abs=1e-6)
    assert matrix[terms.index('loss_a')][terms.index('loss_b')] == \
        pytest.approx(0.0, abs=1e-12)
    main = g['loss_a'] + g['loss_b']
    side = g['loss_a_aux0']
    assert result['groups']['main'] == pytest.approx(np.linalg.norm(main))
    assert result['groups']['side'] == pytest.approx(np.linalg.norm(side))
    assert result['groups']['other'] == 0.0
    assert result['groups']['total'] == pytest.approx(
        np.linalg.norm(main + side))
    assert result['side_main_ratio'] == pytest.approx(
        np.linalg.norm(side) / np.linalg.norm(main), rel=1e-6)
    assert result['side_main_cos'] == pytest.approx(cos(side, main),
                                                    abs=1e-6)
    task_a = result['tasks']['a']
    assert task_a['side_terms'] == ['loss_a_aux0']
    assert task_a['side_main_ratio'] == pytest.approx(
        np.linalg.norm(side) / np.linalg.norm(g['loss_a']), rel=1e-6)
    assert task_a['side_main_cos'] == pytest.approx(cos(side, g['loss_a']),
                                                    abs=1e-6)
    task_b = result['tasks']['b']
    assert task_b['side_terms'] == [] and task_b['side'] == 0.0
    assert math.isnan(task_b['side_main_cos'])
    # the JSON record is standard JSON: NaN written as null
    line = json.dumps(audit_record(result, 7), allow_nan=False)
    record = json.loads(line)
    assert record['iter'] == 7 and record['cosine'][0][3] is None


def test_max_terms_keeps_norms_and_groups_exact():
    torch.manual_seed(0)
    model = HandModel()
    batch = dict(inputs=torch.randn(4, 3))
    full = audit_gradients(model, batch, ('backbone', ))
    part = audit_gradients(model, batch, ('backbone', ), max_terms=2)
    assert part['norms'] == pytest.approx(full['norms'])
    assert part['side_main_ratio'] == pytest.approx(full['side_main_ratio'])
    assert part['cosine'][0][1] == pytest.approx(full['cosine'][0][1])
    assert math.isnan(part['cosine'][0][2])
    with pytest.raises(ValueError, match='max_terms'):
        audit_gradients(model, batch, ('backbone', ), max_terms=0)


def test_classification_of_loss_keys():
    keys = ['loss_semseg', 'loss_semseg_aux0', 'loss_semseg_aux',
            'loss_depth', 'loss_depth_aux1', 'loss_contrast_semseg']
    assert classify_terms(keys, ['semseg', 'depth']) == {
        'loss_semseg': ('main', 'semseg'),
        'loss_semseg_aux0': ('side', 'semseg'),
        'loss_semseg_aux': ('side', 'semseg'),
        'loss_depth': ('main', 'depth'),
        'loss_depth_aux1': ('side', 'depth'),
        'loss_contrast_semseg': ('other', None)
    }
    # without declared tasks: the _aux pattern, mmseg's <head>.loss_* keys
    assert classify_terms(['decode.loss_ce', 'aux.loss_ce', 'loss_x_aux2',
                           'loss_contrast_x']) == {
        'decode.loss_ce': ('main', 'decode'),
        'aux.loss_ce': ('main', 'aux'),
        'loss_x_aux2': ('side', 'x'),
        'loss_contrast_x': ('other', None)
    }
    assert [scalar_name(k) for k in ('loss_semseg_aux0', 'decode.loss_ce',
                                     'loss_contrast_depth')] == [
        'semseg_aux0', 'decode.ce', 'contrast_depth']


def test_unknown_param_prefixes_name_the_key_and_the_children():
    with pytest.raises(ValueError, match=r"param_prefixes.*\['trunk'\].*"
                       r"'backbone', 'head'"):
        audit_gradients(HandModel(), dict(inputs=torch.randn(2, 3)),
                        ('trunk', ))


class BNDropoutModel(HandModel):
    """A backbone with BatchNorm (buffers) and dropout (RNG)."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5),
            nn.Linear(4, 2))


def test_buffers_rng_and_grads_are_left_as_they_were():
    torch.manual_seed(0)
    model = BNDropoutModel().train()
    batch = dict(inputs=torch.randn(6, 3) * 3 + 1)
    first = model.backbone[0].weight
    first.grad = torch.full_like(first, 0.5)
    grad_before = first.grad
    buffers = {k: v.clone() for k, v in model.named_buffers()}

    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    expected = (torch.rand(1), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    result = audit_gradients(model, batch, ('backbone', ))
    after = (torch.rand(1), random.random(), np.random.rand())
    assert torch.equal(after[0], expected[0]) and after[1:] == expected[1:]
    assert result['norms']['loss_a'] > 0
    for name, value in model.named_buffers():
        assert torch.equal(value, buffers[name]), name
    assert first.grad is grad_before and torch.all(first.grad == 0.5)
    assert all(p.grad is None for n, p in model.named_parameters()
               if n != 'backbone.0.weight')
    # the loss forward itself does move the statistics: the check above
    # is meaningful
    model(**model.data_preprocessor(batch, True), mode='loss')
    assert not torch.equal(model.backbone[1].running_mean,
                           buffers['backbone.1.running_mean'])


# ---------------------------------------------------------------------------
# GradientAuditHook in a Runner, and the tool
@pytest.fixture(scope='module')
def tiny_setup(tmp_path_factory):
    """Synthetic scenes and a tiny-input config of the MT-CP demo."""
    tmp = tmp_path_factory.mktemp('grad_audit')
    data_root = str(tmp / 'scenes')
    generate_scenes(data_root, num_train=4, num_val=1, height=48, width=64,
                    seed=0)
    base = osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic_no-lps.py')
    config = str(tmp / 'tiny_mtcp.py')
    with open(config, 'w') as f:
        f.write(f"""
_base_ = [{base!r}]
data_root = {data_root!r}
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomCrop', crop_size=(48, 48)),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=3, val_interval=100)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=100, save_last=False))
""")
    return dict(tmp=tmp, data_root=data_root, config=config)


def _train(setup, name, hooks):
    cfg = in_process_cfg(setup['config'], setup['data_root'],
                         setup['tmp'] / name)
    cfg.custom_hooks = hooks
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.fixture(scope='module')
def runs(tiny_setup):
    # one thread: tiny tensors, and no slowdown when other processes keep
    # the cores busy
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        audited = _train(tiny_setup, 'audited',
                         [dict(type='GradientAuditHook', interval=2)])
        plain = _train(tiny_setup, 'plain', [])
    finally:
        torch.set_num_threads(threads)
    return audited, plain


def test_hook_logs_and_writes_lines_without_changing_training(runs):
    audited, plain = runs
    # weights and buffers after 3 iterations: bit-identical
    plain_state = plain.model.state_dict()
    for key, value in audited.model.state_dict().items():
        assert torch.equal(value, plain_state[key]), key
    assert audited.message_hub.get_scalar('train/loss').data[0].tolist() == \
        plain.message_hub.get_scalar('train/loss').data[0].tolist()
    # the first iteration (first=True) and every 2nd: iterations 1 and 2
    path = osp.join(audited.log_dir, 'grad_audit.jsonl')
    records = [json.loads(line) for line in open(path)]
    assert [r['iter'] for r in records] == [1, 2]
    expected = [f'loss_{t}{s}' for t in NYUD for s in ('', '_aux0', '_aux1')]
    for record in records:
        assert record['terms'] == expected
        assert record['param_prefixes'] == ['backbone', 'neck']
        assert all(record['norms'][t] > 0 for t in expected)
        n = len(expected)
        assert len(record['cosine']) == n and all(
            len(row) == n for row in record['cosine'])
        assert all(record['cosine'][i][i] == 1.0 for i in range(n))
        assert record['side_main_ratio'] > 0
        assert -1 <= record['side_main_cos'] <= 1
        assert set(record['tasks']) == set(NYUD)
    # message-hub scalars: the values of the lines, no key with 'loss'
    hub = audited.message_hub
    norms = hub.get_scalar('train/gradnorm_semseg_aux0').data[0]
    assert norms.tolist() == pytest.approx(
        [r['norms']['loss_semseg_aux0'] for r in records])
    ratios = hub.get_scalar('train/grad_side_main_ratio').data[0]
    assert ratios.tolist() == pytest.approx(
        [r['side_main_ratio'] for r in records])
    assert hub.get_scalar('train/grad_side_main_cos').current() == \
        pytest.approx(records[-1]['side_main_cos'])
    assert 'train/grad_side_main_ratio_depth' in hub.log_scalars
    grad_keys = [k for k in hub.log_scalars if k.startswith('train/grad')]
    assert len(grad_keys) == 12 + 2 + 2 * 4
    assert not any('loss' in k for k in grad_keys)
    assert 'train/gradnorm_semseg' not in plain.message_hub.log_scalars
    scalars = [json.loads(line) for line in open(
        osp.join(audited.log_dir, 'vis_data', 'scalars.json'))]
    assert scalars[0]['grad_side_main_ratio'] == pytest.approx(
        records[0]['side_main_ratio'])


def _tool(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['OMP_NUM_THREADS'] = '1'
    return subprocess.run([sys.executable, TOOL, *args], cwd=str(cwd),
                          env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)


def test_tool_summarizes_a_run(runs, tmp_path):
    audited, _ = runs
    path = osp.join(audited.log_dir, 'grad_audit.jsonl')
    records = [json.loads(line) for line in open(path)]
    # a work dir is searched for the file
    proc = _tool([audited.work_dir], tmp_path)
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    assert '2 audit(s) (iterations 1..2)' in out
    row = [line.split() for line in out.splitlines()
           if line.startswith('loss_depth_aux0 ')][0]
    norms = [r['norms']['loss_depth_aux0'] for r in records]
    assert row[1:3] == ['side', 'depth']
    assert [float(v) for v in row[3:6]] == pytest.approx(
        [np.mean(norms), norms[0], norms[-1]], rel=1e-3)
    iter1 = [line.split() for line in out.splitlines()
             if line.split()[:1] == ['1']][0]
    assert float(iter1[1]) == pytest.approx(records[0]['side_main_ratio'],
                                            rel=1e-3)
    assert float(iter1[2]) == pytest.approx(records[0]['side_main_cos'],
                                            rel=1e-3, abs=1e-4)
    png = osp.join(audited.log_dir, 'grad_audit.png')
    assert osp.getsize(png) > 10000
    # a file and --out
    proc = _tool([path, '--out', 'fig.png'], tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert (tmp_path / 'fig.png').stat().st_size > 10000
    proc = _tool([path, '--batches', '2', '--seed', '1'], tmp_path)
    assert proc.returncode != 0 and '--seed only apply with --config' in \
        proc.stdout


def test_tool_audits_a_config(tiny_setup, tmp_path):
    work_dir = tmp_path / 'audit'
    proc = _tool(['--config', tiny_setup['config'], '--batches', '1',
                  '--work-dir', str(work_dir), '--param-prefixes',
                  'backbone.layer4', '--cfg-options',
                  'train_dataloader.batch_size=1'], tmp_path)
    assert proc.returncode == 0, proc.stdout
    records = [json.loads(line) for line in open(work_dir /
                                                 'grad_audit.jsonl')]
    assert len(records) == 1 and records[0]['iter'] == 1
    assert records[0]['param_prefixes'] == ['backbone.layer4']
    assert '(initialization): 1 audit(s)' in proc.stdout
    assert f'{records[0]["num_params"]:,} parameters (backbone.layer4)' in \
        proc.stdout
    assert 'loss_normals_aux1' in proc.stdout
    assert (work_dir / 'grad_audit.png').stat().st_size > 10000
