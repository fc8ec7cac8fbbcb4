"""The benchmark scripts run as the README shows them (``python
tools/benchmarks/X.py``) from any working directory, without this checkout
on ``PYTHONPATH``, and print their tables. Tiny sizes: these tests check
that the scripts work, not the numbers."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from tool_runs import ROOT

BENCHMARKS = osp.join(ROOT, 'tools', 'benchmarks')


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['OMP_NUM_THREADS'] = '1'
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)


@pytest.mark.parametrize('script', [
    'benchmark_balancers.py', 'benchmark_boundary_eval.py',
    'benchmark_contrastive.py', 'benchmark_dataloading.py'
])
def test_scripts_import_this_checkout(script, tmp_path):
    proc = _run([osp.join(BENCHMARKS, script), '--help'], str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert 'usage' in proc.stdout


def test_benchmark_cfm_table_and_json(tmp_path):
    out = tmp_path / 'cfm.json'
    proc = _run([
        osp.join(BENCHMARKS, 'benchmark_cfm.py'), '--sizes', '6x8',
        '--impls', 'rows+cp+ds2', '--modes', 'train', '--channels', '16',
        '--repeats', '1', '--steps', '2', '--json',
        str(out)
    ], str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    rows = json.loads(out.read_text())
    assert [(r['mode'], r['impl']) for r in rows] == [('train', 'naive'),
                                                    ('train', 'rows+cp+ds2')]
    assert not [r for r in rows if 'error' in r], rows
    # the printed table: a line per case with both ratios
    lines = [ln for ln in proc.stdout.splitlines()
             if ln.startswith('| train')]
    assert len(lines) == 2
    assert all(ln.count('|') == 8 for ln in lines)


def test_benchmark_train_step_on_the_demo_config(tmp_path):
    proc = _run([
        osp.join(BENCHMARKS, 'benchmark_train_step.py'),
        osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py'),
        '--shape', '64', '64', '--steps', '1', '--cfg-options',
        'model.decode_head.trace_levels=0'
    ], str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert 'step:' in proc.stdout and 'peak RSS' in proc.stdout
    assert 'decode_head.cfms' in proc.stdout
    # no trace-back: the SRMs never run
    assert 'decode_head.srms' not in proc.stdout


def test_benchmark_train_step_on_a_pascal_config(tmp_path):
    """A config on PASCAL-Context (random maps of its three tasks) at the
    requested shape, although its preprocessor pads to 512x512."""
    proc = _run([
        osp.join(BENCHMARKS, 'benchmark_train_step.py'),
        osp.join(ROOT, 'configs', 'baseline',
                 'mt_baseline_swin-s-m2f_pascal.py'), '--shape', '64', '64',
        '--steps', '1', '--cfg-options', 'model.backbone.depths=[2,2,2,2]'
    ], str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert 'batch 1 x 64x64 (model input 1x3x64x64)' in proc.stdout
    assert 'step:' in proc.stdout and 'decode_head.decoders' in proc.stdout
