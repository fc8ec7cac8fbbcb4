"""tools/analysis_tools/compare_methods.py: seeded study of several
methods through tools/train.py and tools/test.py."""
import importlib.util
import json
import math
import os
import os.path as osp
import time

import numpy as np
import pytest

from mmmtcp.datasets import generate_scenes
from mmmtcp.evaluation import study

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MTCP = 'configs/mtcp/mtcp_demo_synthetic_no-lps.py'
BASE = 'configs/baseline/mt_baseline_demo_synthetic.py'


def _tool():
    spec = importlib.util.spec_from_file_location(
        'compare_methods',
        osp.join(ROOT, 'tools', 'analysis_tools', 'compare_methods.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _options(data_root):
    opts = ['train_cfg.max_iters=2', 'train_cfg.val_interval=100',
            'param_scheduler.0.end=2', 'default_hooks.checkpoint.interval=2',
            'default_hooks.logger.interval=1',
            'train_dataloader.batch_size=2']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data_root}',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


def _argv(work_dir, data_root, seeds=('0', '1')):
    return ['--method', 'base', BASE, '--method', 'mtcp', MTCP,
            'model.decode_head.cfm.attn_downsample=1', '--seeds', *seeds,
            '--reference', 'base', '--work-dir', str(work_dir),
            '--cfg-options', *_options(data_root)]


# made-up metrics of two methods over three seeds
FAKE = {
    'base': {
        0: {'semseg.mIoU': 40.0, 'depth.rmse': 0.80, 'normals.mean': 20.0,
            'edge.odsF': 80.0, 'coherence.edge_seg_F': 70.0},
        1: {'semseg.mIoU': 36.0, 'depth.rmse': 0.90, 'normals.mean': 21.0,
            'edge.odsF': 78.0, 'coherence.edge_seg_F': 66.0},
        2: {'semseg.mIoU': 38.0, 'depth.rmse': 0.85, 'normals.mean': 19.0,
            'edge.odsF': 79.0, 'coherence.edge_seg_F': 68.0},
    },
    'mtcp': {
        0: {'semseg.mIoU': 42.0, 'depth.rmse': 0.76, 'normals.mean': 19.0,
            'edge.odsF': 81.0, 'coherence.edge_seg_F': 75.0},
        1: {'semseg.mIoU': 35.0, 'depth.rmse': 0.88, 'normals.mean': 21.5,
            'edge.odsF': 79.0, 'coherence.edge_seg_F': 70.0},
        2: {'semseg.mIoU': 40.0, 'depth.rmse': 0.80, 'normals.mean': 18.0,
            'edge.odsF': 80.5, 'coherence.edge_seg_F': 72.0},
    },
}


def _hand_delta_m(m, r):
    terms = [(m['semseg.mIoU'] - r['semseg.mIoU']) / r['semseg.mIoU'],
             -(m['depth.rmse'] - r['depth.rmse']) / r['depth.rmse'],
             -(m['normals.mean'] - r['normals.mean']) / r['normals.mean'],
             (m['edge.odsF'] - r['edge.odsF']) / r['edge.odsF']]
    return 100 * sum(terms) / 4


def test_study_statistics_equal_a_hand_computation():
    summary = study.summarize(FAKE)
    miou = [42.0, 35.0, 40.0]
    mean = sum(miou) / 3
    std = math.sqrt(sum((v - mean)**2 for v in miou) / 2)  # sample std
    assert summary['mtcp']['semseg.mIoU']['mean'] == pytest.approx(mean)
    assert summary['mtcp']['semseg.mIoU']['std'] == pytest.approx(std)
    paired = study.paired_delta_m(FAKE, 'base')
    per_seed = [_hand_delta_m(FAKE['mtcp'][s], FAKE['base'][s])
                for s in (0, 1, 2)]
    assert [paired['mtcp']['per_seed'][s] for s in (0, 1, 2)] == \
        pytest.approx(per_seed)
    assert paired['mtcp']['mean'] == pytest.approx(np.mean(per_seed))
    assert paired['mtcp']['std'] == pytest.approx(np.std(per_seed, ddof=1))
    assert paired['base']['mean'] == 0.0
    # coherence is not a task metric: it stays out of delta_m
    assert study.delta_m(FAKE['mtcp'][0], FAKE['base'][0]) == \
        pytest.approx(per_seed[0])
    line = study.verdict('mtcp', 'base', paired['mtcp'])
    assert 'mtcp vs base' in line and 'delta_m' in line
    assert 'larger than the seed-to-seed spread' in study.verdict(
        'a', 'b', dict(mean=2.0, std=1.0, n=3))
    assert 'loss is larger' in study.verdict(
        'a', 'b', dict(mean=-2.0, std=1.0, n=3))
    assert 'within the seed-to-seed spread' in study.verdict(
        'a', 'b', dict(mean=0.5, std=1.0, n=3))
    table = study.format_table(summary, paired, 'base')
    assert f'{mean:.3f} ± {std:.3f}' in table
    assert 'depth.rmse ↓' in table and 'delta_m (%) ↑ vs base' in table


def test_tool_reuses_made_up_runs_and_reports(tmp_path):
    """Runs whose metrics.json matches their definition are not retrained:
    the tool reports made-up metric files exactly."""
    tool = _tool()
    argv = _argv(tmp_path / 'study', tmp_path / 'unused', seeds=('0', '1',
                                                                 '2'))
    args = tool.parse_args(argv)
    for method in args.method:
        for seed in args.seeds:
            run_dir = tmp_path / 'study' / method[0] / f'seed{seed}'
            run_dir.mkdir(parents=True)
            with open(run_dir / 'metrics.json', 'w') as f:
                json.dump(dict(
                    definition=tool.run_definition(method, seed, args),
                    metrics=FAKE[method[0]][seed],
                    train_time=10.0 + seed, test_time=2.0), f)
    out = tool.main(argv)
    assert not list((tmp_path / 'study').rglob('train.log'))
    paired = study.paired_delta_m(FAKE, 'base')
    assert out['paired_delta_m']['mtcp']['mean'] == pytest.approx(
        paired['mtcp']['mean'])
    data = json.loads((tmp_path / 'study' / 'results.json').read_text())
    assert data['summary']['mtcp']['train_time']['mean'] == pytest.approx(
        11.0)
    assert data['paired_delta_m']['mtcp']['per_seed']['1'] == \
        pytest.approx(paired['mtcp']['per_seed'][1])
    text = (tmp_path / 'study' / 'results.md').read_text()
    assert 'coherence.edge_seg_F ↑' in text and 'mtcp vs base' in text
    assert (tmp_path / 'study' / 'results.png').stat().st_size > 1000
    # a changed definition (here: another override) is run again
    args = tool.parse_args(argv + ['train_cfg.max_iters=3'])
    assert tool.run_definition(args.method[0], 0, args) != \
        tool.run_definition(args.method[0], 0, tool.parse_args(argv))


def test_tool_trains_tests_and_resumes(tmp_path, capsys):
    data_root = str(tmp_path / 'scenes')
    generate_scenes(data_root, 4, 2, height=48, width=64, seed=0)
    tool = _tool()
    argv = _argv(tmp_path / 'study', data_root) + ['--jobs', '2']
    out = tool.main(argv)
    text = capsys.readouterr().out
    assert '2 methods x 2 seeds = 4 runs' in text
    assert 'base seed 1: train    2/2' in text
    for name in ('base', 'mtcp'):
        for seed in (0, 1):
            run = json.loads((tmp_path / 'study' / name / f'seed{seed}' /
                              'metrics.json').read_text())
            for key in ('semseg.mIoU', 'depth.rmse', 'normals.mean',
                        'edge.odsF', 'coherence.normal_depth_angle',
                        'coherence.edge_seg_F'):
                assert key in run['metrics']
            assert run['train_time'] > 0 and run['definition']['seed'] == \
                seed
    for f in ('results.md', 'results.json', 'results.png'):
        assert (tmp_path / 'study' / f).is_file()
    assert out['summary']['mtcp']['semseg.mIoU']['n'] == 2
    logs = sorted((tmp_path / 'study').rglob('train.log'))
    assert len(logs) == 4
    stamps = [os.stat(p).st_mtime_ns for p in logs]
    # an interrupted study: one run lost its test result, one is complete
    os.remove(tmp_path / 'study' / 'mtcp' / 'seed1' / 'metrics.json')
    tool.main(argv)
    text = capsys.readouterr().out
    assert text.count('finished earlier') == 3
    assert 'mtcp seed 1: trained earlier, testing' in text
    assert [os.stat(p).st_mtime_ns for p in logs] == stamps


def test_tool_argument_errors(capsys):
    tool = _tool()
    for argv in (['--method', 'a'],
                 ['--method', 'a', BASE, '--method', 'a', MTCP],
                 ['--method', 'a', BASE, '--reference', 'b'],
                 ['--method', 'a/b', BASE],
                 ['--method', 'a', BASE, 'novalue']):
        with pytest.raises(SystemExit):
            tool.parse_args(argv)


def _procs_with(text):
    """PIDs of the live processes whose command line contains ``text``
    (zombies, which have none, are not listed)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                args = f.read().decode(errors='replace').split('\0')
        except OSError:
            continue
        if any(text in arg for arg in args):
            pids.append(int(entry))
    return pids


def _wait_for(condition, timeout, what, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f'the study ended (code {proc.returncode}) before '
                        f'{what}:\n{log.read_text() if log else ""}')
        if time.monotonic() > deadline:
            pytest.fail(f'timed out waiting for {what}')
        time.sleep(0.1)


def test_signal_stops_the_study_children_and_marks_the_run(tmp_path):
    """SIGTERM / SIGINT reach the training process and its data loader
    worker (a process group of its own), the study exits non-zero naming
    the run, the run is marked unfinished and the next study trains it
    again; while it runs, a second study in its work dir is refused."""
    import signal
    import subprocess
    import sys

    from tool_runs import HELPERS, run, write_demo_config
    data_root = str(tmp_path / 'scenes')
    generate_scenes(data_root, 4, 2, height=48, width=64, seed=0)
    flag = tmp_path / 'stall'
    flag.touch()
    reached = tmp_path / 'stall.reached'
    cfg = write_demo_config(
        str(tmp_path / 'stall_cfg.py'), data_root,
        f'custom_hooks = [dict(type="StallWhileFlagHook", flag={str(flag)!r})]'
        '\n')
    work_dir = tmp_path / 'study'
    run_dir = str(work_dir / 'm' / 'seed0')
    opts = [o for o in _options(data_root)
            if not o.startswith('train_dataloader.')]
    opts += [f'train_dataloader.dataset.data_root={data_root}',
             'train_dataloader.num_workers=1',
             'train_dataloader.persistent_workers=True']
    argv = [osp.join(ROOT, 'tools', 'analysis_tools', 'compare_methods.py'),
            '--method', 'm', cfg, '--seeds', '0', '--work-dir',
            str(work_dir), '--kill-timeout', '5', '--cfg-options', *opts]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT, HELPERS, env.get('PYTHONPATH', '')])

    def start(log):
        with open(log, 'w') as out:
            return subprocess.Popen([sys.executable, *argv], cwd=ROOT,
                                    env=env, stdout=out,
                                    stderr=subprocess.STDOUT)

    try:
        for attempt, signum in enumerate((signal.SIGTERM, signal.SIGINT)):
            log = tmp_path / f'study{attempt}.log'
            if reached.exists():
                reached.unlink()
            proc = start(log)
            _wait_for(reached.exists, 120, 'the training loop', proc, log)
            # tools/train.py and its data loader worker
            assert len(_procs_with(run_dir)) >= 2, _procs_with(run_dir)
            if attempt == 0:
                other = run(argv[:], cwd=ROOT, timeout=60)
                assert other.returncode != 0
                assert f'the work dir {work_dir} is in use' in other.stdout
            os.kill(proc.pid, signum)
            assert proc.wait(timeout=30) == 128 + signum
            _wait_for(lambda: not _procs_with(run_dir), 5,
                      'the end of the processes of the run')
            text = log.read_text()
            assert f'stopped by {signum.name}' in text
            assert f'm seed 0 (during training; {run_dir})' in text
            mark = json.loads(
                (work_dir / 'm' / 'seed0' / 'interrupted.json').read_text())
            assert (mark['stage'], mark['signal']) == ('training',
                                                       signum.name)
            for name in ('train_done.json', 'metrics.json'):
                assert not (work_dir / 'm' / 'seed0' / name).exists()
            if attempt == 1:
                # the rerun trained the interrupted run again
                assert 'm seed 0: was interrupted by SIGTERM during ' \
                    'training' in text
                assert f'm seed 0: training {cfg}' in text
                assert 'finished earlier' not in text
                assert 'trained earlier' not in text
    finally:
        if flag.exists():
            flag.unlink()
        for pid in _procs_with(run_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_first_failed_run_stops_the_study(tmp_path, capsys, monkeypatch):
    """Two runs at a time: while the first run is held in its training
    loop, the second fails; the third is not started, the first finishes,
    the study exits with 1 naming the failed run and its log."""
    import threading

    from tool_runs import HELPERS, write_demo_config
    monkeypatch.setenv(
        'PYTHONPATH', os.pathsep.join([HELPERS, os.environ.get('PYTHONPATH',
                                                               '')]))
    data_root = str(tmp_path / 'scenes')
    generate_scenes(data_root, 2, 1, height=48, width=64, seed=0)
    flag = tmp_path / 'stall'
    flag.touch()
    held = write_demo_config(
        str(tmp_path / 'stall_cfg.py'), data_root,
        f'custom_hooks = [dict(type="StallWhileFlagHook", flag={str(flag)!r})]'
        '\n')
    work_dir = tmp_path / 'study'
    missing = str(tmp_path / 'missing')
    bad_log = work_dir / 'bad' / 'seed0' / 'train.log'

    def release_after_the_failure():
        # the second run failed: the first may go on a second later
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if bad_log.exists() and missing in bad_log.read_text():
                time.sleep(1)
                break
            time.sleep(0.1)
        flag.unlink()

    releaser = threading.Thread(target=release_after_the_failure)
    releaser.start()
    argv = ['--method', 'held', held, '--method', 'bad', BASE,
            f'train_dataloader.dataset.data_root={missing}',
            '--method', 'next', BASE, '--seeds', '0', '--jobs', '2',
            '--work-dir', str(work_dir), '--cfg-options',
            *_options(data_root)]
    try:
        with pytest.raises(SystemExit) as info:
            _tool().main(argv)
    finally:
        releaser.join()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert 'run bad seed 0 failed' in err and str(bad_log) in err
    assert 'Runs not started (the study stops at the first failed run): ' \
        'next seed 0' in err
    assert not (work_dir / 'next').exists()
    # the run in progress finished
    assert (work_dir / 'held' / 'seed0' / 'metrics.json').is_file()
