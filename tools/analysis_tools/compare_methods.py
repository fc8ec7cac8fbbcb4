"""Seeded comparison of multi-task methods.

Trains every method (a config, with optional overrides) with every seed
through ``tools/train.py`` (MMEngine's Runner), tests the final checkpoint
with ``tools/test.py``, and writes to ``--work-dir``:

- ``results.md``: mean ± std (sample std over seeds) of every metric per
  method, the paired ``delta_m`` of each method against ``--reference``
  (per seed against the reference run of the same seed), train/test wall
  time, and one verdict line per method;
- ``results.json``: every run's metrics and times, the summary and the
  paired delta_m;
- ``results.png``: bar chart with error bars of the primary metrics,
  coherence measures and paired delta_m.

Each run lives in ``<work-dir>/<method>/seed<seed>/``. A run whose
``metrics.json`` exists for the same run definition (config, overrides,
seed) is not repeated, so an interrupted study resumes where it stopped;
``--force`` retrains everything. Runs can go in parallel (``--jobs``), each
with ``cpu_count // jobs`` threads.

Example::

    python tools/analysis_tools/compare_methods.py \\
        --method baseline configs/baseline/mt_baseline_demo_synthetic.py \\
        --method mtcp configs/mtcp/mtcp_demo_synthetic.py \\
        --method mtcp-nolps configs/mtcp/mtcp_demo_synthetic.py \\
            custom_hooks=[] \\
        --seeds 0 1 2 --reference baseline --work-dir work_dirs/study \\
        --cfg-options train_cfg.max_iters=200
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ITER = re.compile(r'Iter\((train|val|test)\)\s*\[\s*(\d+)/(\d+)\]')
ETA = re.compile(r'eta: (\S+)')
LOSS = re.compile(r'\sloss: ([-\d.e]+)')
PROBLEM = ('Traceback', 'Error:', 'Warning: ', 'NaN', 'nan_policy')
# keys of mmengine's test log that are timings of the loop, not metrics
LOG_ONLY = ('time', 'data_time')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and test several multi-task methods over several '
        'seeds and compare them (mean ± std, paired delta_m)')
    parser.add_argument(
        '--method',
        nargs='+',
        action='append',
        required=True,
        metavar=('NAME CONFIG', 'KEY=VALUE'),
        help='a method: its name, its config and optional overrides '
        '(--cfg-options syntax) of this method only; repeat per method')
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0, 1, 2],
        help='seeds (randomness.seed) of every method')
    parser.add_argument(
        '--reference',
        help='method delta_m is computed against (default: the first)')
    parser.add_argument('--work-dir', default='work_dirs/compare_methods')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='overrides of every run, train and test (KEY=VALUE)')
    parser.add_argument(
        '--test-options',
        nargs='+',
        default=['test_evaluator.coherence=True'],
        help='extra overrides of the test runs only (default: the '
        'coherence measures on)')
    parser.add_argument(
        '--validate', action='store_true',
        help='keep the validation of the configs during training (by '
        'default training runs without it; every run is tested once at '
        'the end)')
    parser.add_argument(
        '--jobs', type=int, default=1, help='runs trained in parallel')
    parser.add_argument(
        '--force', action='store_true',
        help='retrain and retest finished runs')
    parser.add_argument(
        '--title', default=None, help='title of the chart')
    parser.add_argument(
        '--verbose', action='store_true', help='show the full logs')
    args = parser.parse_args(argv)
    names = []
    for spec in args.method:
        if len(spec) < 2:
            parser.error(f'--method needs a name and a config, got {spec}')
        if spec[0] in names:
            parser.error(f'--method name {spec[0]!r} given twice')
        if not re.fullmatch(r'[\w.+-]+', spec[0]):
            parser.error(f'--method name {spec[0]!r}: use letters, digits '
                         'and . _ + - (it names a directory)')
        bad = [o for o in spec[2:] if '=' not in o]
        if bad:
            parser.error(f'--method {spec[0]}: overrides must be '
                         f'KEY=VALUE, got {bad}')
        names.append(spec[0])
        for path in (spec[1], osp.join(ROOT, spec[1])):
            if osp.isfile(path):
                spec[1] = osp.abspath(path)
                break
        else:
            parser.error(f'--method {spec[0]}: config {spec[1]!r} not found')
    if args.reference is None:
        args.reference = names[0]
    elif args.reference not in names:
        parser.error(f'--reference {args.reference!r} is not one of the '
                     f'methods {names}')
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds has duplicates: {args.seeds}')
    return args


class Progress:
    """Timestamped progress lines, safe from several threads."""

    def __init__(self, prefix: str = 'study') -> None:
        self.start = time.time()
        self.prefix = prefix
        self.lock = threading.Lock()

    def __call__(self, msg: str) -> None:
        minutes, seconds = divmod(int(time.time() - self.start), 60)
        with self.lock:
            print(f'[{self.prefix} {minutes:02d}:{seconds:02d}] {msg}',
                  flush=True)


def progress_line(line: str) -> Optional[str]:
    """A short progress line for a log line worth showing, else None."""
    match = ITER.search(line)
    if match:
        stage, done, total = match.groups()
        text = f'{stage} {done:>4s}/{total}'
        loss = LOSS.search(line)
        if loss:
            text += f'  loss {float(loss.group(1)):.3f}'
        eta = ETA.search(line)
        if eta:
            text += f'  eta {eta.group(1)}'
        return text
    if any(key in line for key in PROBLEM):
        return line.rstrip()
    return None


def run_tool(cmd: List[str], log_file: str, threads: int,
             show: Callable[[str], None], verbose: bool) -> None:
    """Run a tool of this checkout, stream its progress, keep its log.

    Raises:
        RuntimeError: The tool failed; the message names its log.
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        env[var] = str(threads)
    with open(log_file, 'w') as log:
        proc = subprocess.Popen([sys.executable, *cmd],
                                cwd=ROOT,
                                env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                text=True)
        for line in proc.stdout:
            log.write(line)
            shown = line.rstrip() if verbose else progress_line(line)
            if shown:
                show(shown)
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd[:2])} failed with exit code '
                           f'{proc.returncode}; see {log_file}')


def run_definition(method: Sequence[str], seed: int,
                   args: argparse.Namespace) -> dict:
    """What identifies a run: config (its text and its bases'), overrides,
    seed."""
    from mmengine.config import Config
    cfg = Config.fromfile(method[1])
    digest = hashlib.sha256(cfg.pretty_text.encode()).hexdigest()[:16]
    return dict(
        method=method[0],
        config=method[1],
        config_digest=digest,
        method_options=list(method[2:]),
        cfg_options=list(args.cfg_options),
        validate=bool(args.validate),
        test_options=list(args.test_options),
        seed=seed)


def _load_json(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _write_json(path: str, data: dict) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def _latest_metrics(test_dir: str) -> Dict[str, float]:
    files = sorted(glob.glob(osp.join(test_dir, '*', '*.json')))
    if not files:
        raise FileNotFoundError(f'tools/test.py wrote no metrics file in '
                                f'{test_dir}')
    with open(files[-1]) as f:
        return json.load(f)


def train_and_test(method: Sequence[str], seed: int,
                   args: argparse.Namespace, threads: int,
                   progress: Progress) -> dict:
    """Train and test one (method, seed) unless it is already done.

    Returns:
        dict: ``dict(definition, metrics, train_time, test_time)``.
    """
    name, config = method[0], method[1]
    run_dir = osp.abspath(osp.join(args.work_dir, name, f'seed{seed}'))
    definition = run_definition(method, seed, args)
    result_file = osp.join(run_dir, 'metrics.json')
    done = _load_json(result_file)
    tag = f'{name} seed {seed}'
    if done is not None and not args.force:
        if done.get('definition') == definition:
            progress(f'{tag}: finished earlier, reusing {result_file}')
            return done
        progress(f'{tag}: the run definition changed since {result_file} '
                 'was written; running it again')
    os.makedirs(run_dir, exist_ok=True)
    overrides = [*args.cfg_options, *method[2:]]

    def show(line: str) -> None:
        progress(f'{tag}: {line}')

    trained = _load_json(osp.join(run_dir, 'train_done.json'))
    if (trained is not None and trained.get('definition') == definition
            and not args.force and osp.isfile(trained['checkpoint'])):
        progress(f'{tag}: trained earlier, testing {trained["checkpoint"]}')
    else:
        progress(f'{tag}: training {config}')
        start = time.time()
        # last, so that it wins over the overrides of `val_dataloader.*`
        no_val = [] if args.validate else [
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None'
        ]
        run_tool([
            'tools/train.py', config, '--work-dir', run_dir, '--cfg-options',
            f'randomness.seed={seed}', *overrides, *no_val
        ], osp.join(run_dir, 'train.log'), threads, show, args.verbose)
        with open(osp.join(run_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        trained = dict(
            definition=definition,
            checkpoint=checkpoint,
            train_time=time.time() - start)
        _write_json(osp.join(run_dir, 'train_done.json'), trained)
    progress(f'{tag}: testing')
    start = time.time()
    test_dir = osp.join(run_dir, 'test')
    run_tool([
        'tools/test.py', config, trained['checkpoint'], '--work-dir',
        test_dir, '--cfg-options', f'randomness.seed={seed}', *overrides,
        *args.test_options
    ], osp.join(run_dir, 'test.log'), threads, show, args.verbose)
    result = dict(
        definition=definition,
        metrics=_latest_metrics(test_dir),
        train_time=trained['train_time'],
        test_time=time.time() - start)
    _write_json(result_file, result)
    progress(f'{tag}: done (train {result["train_time"]:.0f} s, test '
             f'{result["test_time"]:.0f} s)')
    return result


def collect(runs: Dict[str, Dict[int, dict]]) -> Dict[str, Dict[int, dict]]:
    """Per-run metrics with the wall times as extra metrics."""
    return {
        name: {
            seed: dict({
                k: v
                for k, v in run['metrics'].items() if k not in LOG_ONLY
            },
                       train_time=run['train_time'],
                       test_time=run['test_time'])
            for seed, run in per_seed.items()
        }
        for name, per_seed in runs.items()
    }


def report(results: Dict[str, Dict[int, dict]], reference: str,
           work_dir: str, title: Optional[str] = None) -> dict:
    """Write results.md / .json / .png of a study and return the summary.

    Args:
        results (dict): ``{method: {seed: metrics}}`` (metrics may include
            ``train_time`` / ``test_time``).
        reference (str): The delta_m reference method.
        work_dir (str): Output directory.
        title (str, optional): Chart title.

    Returns:
        dict: ``dict(summary, paired_delta_m, verdicts, table)``.
    """
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from mmmtcp.evaluation.study import (ordered_keys, paired_delta_m,
                                         plot_study, primary_keys, summarize,
                                         verdict, format_table)
    summary = summarize(results)
    # delta_m reads the tasks' primary metrics only, never the times
    paired = paired_delta_m(results, reference)
    # every run lists its times after its metrics, so they come last
    keys = ordered_keys(summary)
    table = format_table(summary, paired, reference, keys)
    verdicts = [
        verdict(m, reference, paired[m]) for m in results if m != reference
    ]
    seeds = sorted({s for runs in results.values() for s in runs})
    first = next(iter(next(iter(results.values())).values()))
    chart_keys = list(primary_keys(first).values()) + [
        k for k in keys if k.startswith('coherence.')
    ]
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(f'Seeds {seeds}; cells are mean ± sample std over seeds; '
                f'delta_m is paired by seed against {reference}; times in '
                's.\n\n' + table + '\n\n' + '\n'.join(verdicts) + '\n')
    plot_study(summary, osp.join(work_dir, 'results.png'), chart_keys,
               paired, reference, title)
    data = dict(
        seeds=seeds,
        reference=reference,
        runs={m: {str(s): r for s, r in runs.items()}
              for m, runs in results.items()},
        summary=summary,
        paired_delta_m={
            m: dict(p, per_seed={str(s): v for s, v in p['per_seed'].items()})
            for m, p in paired.items()
        },
        verdicts=verdicts)
    _write_json(osp.join(work_dir, 'results.json'), data)
    return dict(summary=summary, paired_delta_m=paired, verdicts=verdicts,
                table=table)


def main(argv=None) -> dict:
    # the configs import this checkout's mmmtcp (custom_imports)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    progress = Progress()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    # method-major: list the slowest method first and the parallel jobs end
    # with the quick runs
    jobs = [(method, seed) for method in args.method for seed in args.seeds]
    progress(f'{len(args.method)} methods x {len(args.seeds)} seeds = '
             f'{len(jobs)} runs, {args.jobs} at a time with {threads} '
             f'thread(s) each; work dir {args.work_dir}')
    runs: Dict[str, Dict[int, dict]] = {m[0]: {} for m in args.method}
    counter = dict(done=0)

    def one(job):
        method, seed = job
        result = train_and_test(method, seed, args, threads, progress)
        with progress.lock:
            counter['done'] += 1
            done = counter['done']
        progress(f'{done}/{len(jobs)} runs finished')
        return method[0], seed, result

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for name, seed, result in pool.map(one, jobs):
            runs[name][seed] = result
    out = report(collect(runs), args.reference, args.work_dir, args.title)
    print()
    print(out['table'])
    print()
    for line in out['verdicts']:
        print(line)
    print(f'\nTable: {args.work_dir}/results.md, chart: '
          f'{args.work_dir}/results.png, data: {args.work_dir}/results.json')
    return out


if __name__ == '__main__':
    main()
