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

Stopping: SIGINT (Ctrl-C) or SIGTERM is forwarded to the process group of
every running ``tools/train.py`` / ``tools/test.py`` (their data loader
workers included), which get ``--kill-timeout`` seconds to end before
SIGKILL; no further run is started, the interrupted runs are marked
unfinished (``interrupted.json``, their completion files removed) so that
the next study trains them again, and the tool exits with ``128 + signal
number`` naming them. The first failed run stops the study too: the runs
in progress finish, no new one is started and the tool exits with 1
naming the failed run and its log. One study at a time uses a work dir:
its lock is held by the tool and the tools it runs.

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
import fcntl
import glob
import hashlib
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ITER = re.compile(r'Iter\((train|val|test)\)\s*\[\s*(\d+)/(\d+)\]')
ETA = re.compile(r'eta: (\S+)')
LOSS = re.compile(r'\sloss: ([-\d.e]+)')
PROBLEM = ('Traceback', 'Error:', 'Warning: ', 'NaN', 'nan_policy')
# keys of mmengine's test log that are timings of the loop, not metrics
LOG_ONLY = ('time', 'data_time')
# files of a run dir that say a stage is complete, and the mark of a run
# stopped by a signal
TRAIN_DONE = 'train_done.json'
RESULT = 'metrics.json'
INTERRUPTED = 'interrupted.json'
LOCK = '.compare_methods.lock'


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
        '--kill-timeout', type=float, default=10.0,
        help='seconds the running tools get to end after SIGINT/SIGTERM '
        'is forwarded to them, before SIGKILL (default: 10)')
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
    if args.kill_timeout < 0:
        parser.error('--kill-timeout must be >= 0')
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


class RunInterrupted(Exception):
    """A run stopped (or not started) because the study is stopping.

    Args:
        tag (str): The run, e.g. ``'base seed 0'``.
        stage (str, optional): ``'training'`` or ``'testing'`` when a tool
            of the run was stopped; None when the run had not started.
    """

    def __init__(self, tag: str, stage: Optional[str] = None) -> None:
        super().__init__(tag if stage is None else f'{tag} ({stage})')
        self.tag = tag
        self.stage = stage


class ChildProcesses:
    """The tools a study runs and the way they are stopped.

    Every tool starts in a process group of its own (``start_new_session``)
    so that a signal reaches its data loader workers too. :meth:`stop`
    (the SIGINT/SIGTERM handler) forwards the signal to every group and
    refuses new tools; :meth:`kill_overdue` SIGKILLs the groups still
    alive ``grace`` seconds later; a second signal SIGKILLs at once.
    :meth:`stop_launching` (after a failed run) only refuses new runs.

    Args:
        grace (float): Seconds between the forwarded signal and SIGKILL.
            Defaults to 10.
        pass_fds (tuple[int]): File descriptors the tools inherit (the
            study's lock). Defaults to none.
    """

    def __init__(self, grace: float = 10.0,
                 pass_fds: Tuple[int, ...] = ()) -> None:
        self.grace = grace
        self.pass_fds = tuple(pass_fds)
        # re-entrant: the signal handler runs in the main thread, which may
        # hold the lock in kill_overdue() when the signal arrives
        self.lock = threading.RLock()
        self.groups: Dict[int, subprocess.Popen] = {}
        self.signum: Optional[int] = None
        self.deadline: Optional[float] = None
        self.launching = True

    @property
    def stopping(self) -> bool:
        """Whether a signal asked the study to stop."""
        return self.signum is not None

    def check(self, tag: str) -> None:
        """Raise :class:`RunInterrupted` (not started) when no new run may
        start: the study is stopping or a run failed."""
        if self.stopping or not self.launching:
            raise RunInterrupted(tag)

    def start(self, cmd: List[str], tag: str, stage: str,
              **kwargs) -> subprocess.Popen:
        """Start a tool in a new process group, unless the study stops.

        Raises:
            RunInterrupted: A signal was received.
        """
        with self.lock:
            if self.stopping:
                raise RunInterrupted(tag, stage)
            proc = subprocess.Popen(
                cmd, start_new_session=True, pass_fds=self.pass_fds,
                **kwargs)
            self.groups[proc.pid] = proc
        return proc

    def _signal_group(self, pgid: int, signum: int) -> None:
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _group_alive(self, pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a member of another user
            return True
        return True

    def finish(self, proc: subprocess.Popen) -> None:
        """Forget a tool whose output ended; when the study is stopping,
        wait for the tool and what is left of its process group (SIGKILL
        after the grace period)."""
        pgid = proc.pid
        if self.stopping:
            killed = False
            # zombies count as members until they are reaped (the tool by
            # poll(), its orphans by init): give up a few seconds after the
            # SIGKILL
            while time.monotonic() < self.deadline + 5:
                proc.poll()
                if not self._group_alive(pgid):
                    break
                if not killed and time.monotonic() >= self.deadline:
                    self._signal_group(pgid, signal.SIGKILL)
                    killed = True
                time.sleep(0.05)
        with self.lock:
            self.groups.pop(pgid, None)

    def stop(self, signum: int, frame=None) -> None:
        """Signal handler: forward ``signum`` to every tool's group and
        refuse new tools; a second signal SIGKILLs them."""
        with self.lock:
            first = self.signum is None
            if first:
                self.signum = signum
                self.deadline = time.monotonic() + self.grace
            for pgid in list(self.groups):
                self._signal_group(pgid, signum if first else signal.SIGKILL)

    def stop_launching(self) -> None:
        """Start no new run (the ones in progress go on)."""
        self.launching = False

    def kill_overdue(self) -> None:
        """SIGKILL the groups still running after the grace period."""
        with self.lock:
            if self.deadline is None or time.monotonic() < self.deadline:
                return
            for pgid in list(self.groups):
                self._signal_group(pgid, signal.SIGKILL)


def run_tool(cmd: List[str],
             log_file: str,
             threads: int,
             show: Callable[[str], None],
             verbose: bool,
             children: Optional[ChildProcesses] = None,
             tag: str = '',
             stage: str = '') -> None:
    """Run a tool of this checkout, stream its progress, keep its log.

    Args:
        cmd (list[str]): The tool and its arguments.
        log_file (str): Where its output is written.
        threads (int): ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` of it.
        show (Callable[[str], None]): Prints a progress line.
        verbose (bool): Show every line of its output.
        children (ChildProcesses, optional): The study's processes: the
            tool runs in a process group of its own and stops with the
            study. Defaults to None (a plain child process).
        tag (str): The run, for messages.
        stage (str): ``'training'`` or ``'testing'``, for messages.

    Raises:
        RuntimeError: The tool failed; the message names its log.
        RunInterrupted: The study was stopped by a signal.
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        env[var] = str(threads)
    kwargs = dict(
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)
    with open(log_file, 'w') as log:
        if children is None:
            proc = subprocess.Popen([sys.executable, *cmd], **kwargs)
        else:
            proc = children.start([sys.executable, *cmd], tag, stage,
                                  **kwargs)
        try:
            for line in proc.stdout:
                log.write(line)
                shown = line.rstrip() if verbose else progress_line(line)
                # once stopping, the tracebacks of the signal stay in the log
                if shown and not (children is not None
                                  and children.stopping):
                    show(shown)
            proc.wait()
        finally:
            if proc.poll() is None:  # left early by an error of this process
                if children is None:
                    proc.kill()
                else:
                    children._signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
            if children is not None:
                children.finish(proc)
    if children is not None and children.stopping:
        # whatever its exit code: a tool that was sent the signal has not
        # necessarily done its whole job
        raise RunInterrupted(tag, stage)
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


def _remove(path: str) -> None:
    """Remove a file if it exists."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _metrics_files(test_dir: str) -> List[str]:
    """The metrics files of tools/test.py in ``test_dir``, oldest first."""
    return sorted(glob.glob(osp.join(test_dir, '*', '*.json')))


def _latest_metrics(test_dir: str,
                    earlier: Sequence[str] = ()) -> Dict[str, float]:
    """The metrics of the newest test in ``test_dir``.

    Args:
        test_dir (str): ``--work-dir`` of tools/test.py.
        earlier (Sequence[str]): Metrics files that were there before the
            test; they are never taken.

    Returns:
        dict: The metrics.
    """
    files = [f for f in _metrics_files(test_dir) if f not in set(earlier)]
    if not files:
        raise FileNotFoundError(f'tools/test.py wrote no metrics file in '
                                f'{test_dir}')
    with open(files[-1]) as f:
        return json.load(f)


def _mark_interrupted(run_dir: str, stage: str,
                      children: ChildProcesses) -> None:
    """Write ``interrupted.json`` in ``run_dir``: what was stopped, when
    and by which signal (the completion files are already gone)."""
    name = (signal.Signals(children.signum).name
            if children.signum is not None else None)
    _write_json(
        osp.join(run_dir, INTERRUPTED),
        dict(stage=stage, signal=name, time=time.strftime('%Y-%m-%d '
                                                          '%H:%M:%S')))


def train_and_test(method: Sequence[str],
                   seed: int,
                   args: argparse.Namespace,
                   threads: int,
                   progress: Progress,
                   children: Optional[ChildProcesses] = None) -> dict:
    """Train and test one (method, seed) unless it is already done.

    A stage's completion file (``train_done.json``, ``metrics.json``) is
    removed before the stage starts and written when it has ended well, so
    a run stopped in the middle is never taken as finished: it is marked
    ``interrupted.json`` and the next study runs the stage again (training
    from scratch).

    Args:
        method (Sequence[str]): Name, config and overrides of the method.
        seed (int): The seed.
        args (argparse.Namespace): The study's arguments.
        threads (int): Threads of each tool.
        progress (Progress): Prints progress lines.
        children (ChildProcesses, optional): The study's processes; when
            given, the run stops with the study and starts no tool once
            it stops or a run failed. Defaults to None (plain child
            processes).

    Returns:
        dict: ``dict(definition, metrics, train_time, test_time)``.

    Raises:
        RunInterrupted: The study stopped (signal or failed run) before or
            during this run.
    """
    name, config = method[0], method[1]
    run_dir = osp.abspath(osp.join(args.work_dir, name, f'seed{seed}'))
    definition = run_definition(method, seed, args)
    result_file = osp.join(run_dir, RESULT)
    done = _load_json(result_file)
    tag = f'{name} seed {seed}'
    if done is not None and not args.force:
        if done.get('definition') == definition:
            progress(f'{tag}: finished earlier, reusing {result_file}')
            return done
        progress(f'{tag}: the run definition changed since {result_file} '
                 'was written; running it again')
    if children is not None:
        children.check(tag)
    interrupted = _load_json(osp.join(run_dir, INTERRUPTED))
    if interrupted is not None:
        progress(f'{tag}: was interrupted by {interrupted.get("signal")} '
                 f'during {interrupted.get("stage")} on '
                 f'{interrupted.get("time")}; running it again')
    os.makedirs(run_dir, exist_ok=True)
    overrides = [*args.cfg_options, *method[2:]]

    def show(line: str) -> None:
        progress(f'{tag}: {line}')

    stage = 'training'
    try:
        # no metrics of an earlier test may outlive a new train or test
        _remove(result_file)
        trained = _load_json(osp.join(run_dir, TRAIN_DONE))
        if (trained is not None and trained.get('definition') == definition
                and not args.force and osp.isfile(trained['checkpoint'])):
            progress(f'{tag}: trained earlier, testing '
                     f'{trained["checkpoint"]}')
        else:
            progress(f'{tag}: training {config}')
            # tools/train.py writes them again when it ends well
            _remove(osp.join(run_dir, TRAIN_DONE))
            _remove(osp.join(run_dir, 'last_checkpoint'))
            start = time.time()
            # last, so that it wins over the overrides of `val_dataloader.*`
            no_val = [] if args.validate else [
                'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None'
            ]
            run_tool([
                'tools/train.py', config, '--work-dir', run_dir,
                '--cfg-options', f'randomness.seed={seed}', *overrides,
                *no_val
            ], osp.join(run_dir, 'train.log'), threads, show, args.verbose,
                     children, tag, stage)
            last = osp.join(run_dir, 'last_checkpoint')
            if not osp.isfile(last):
                raise RuntimeError(
                    f'tools/train.py ended without saving a checkpoint in '
                    f'{run_dir} (no last_checkpoint); see '
                    f'{osp.join(run_dir, "train.log")}')
            with open(last) as f:
                checkpoint = f.read().strip()
            trained = dict(
                definition=definition,
                checkpoint=checkpoint,
                train_time=time.time() - start)
            _write_json(osp.join(run_dir, TRAIN_DONE), trained)
        stage = 'testing'
        progress(f'{tag}: testing')
        start = time.time()
        test_dir = osp.join(run_dir, 'test')
        earlier = _metrics_files(test_dir)
        run_tool([
            'tools/test.py', config, trained['checkpoint'], '--work-dir',
            test_dir, '--cfg-options', f'randomness.seed={seed}', *overrides,
            *args.test_options
        ], osp.join(run_dir, 'test.log'), threads, show, args.verbose,
                 children, tag, stage)
    except RunInterrupted:
        _mark_interrupted(run_dir, stage, children)
        raise
    result = dict(
        definition=definition,
        metrics=_latest_metrics(test_dir, earlier),
        train_time=trained['train_time'],
        test_time=time.time() - start)
    _write_json(result_file, result)
    _remove(osp.join(run_dir, INTERRUPTED))
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


def lock_work_dir(work_dir: str) -> int:
    """Take the study lock of ``work_dir`` (``.compare_methods.lock``).

    The lock (``flock``) is held as long as its file stays open in this
    process or in the tools it starts (they inherit it), so a study whose
    tools are still running, e.g. after this process was SIGKILLed, keeps
    its work dir locked.

    Args:
        work_dir (str): The study's work dir (created if missing).

    Returns:
        int: The file descriptor holding the lock; close it to release.

    Raises:
        SystemExit: Another study or its tools hold the lock; the message
            names the work dir and the holder.
    """
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        with open(path) as f:
            holder = f.read().strip() or 'unknown process'
        os.close(fd)
        pid = re.match(r'PID (\d+)', holder)
        if pid is not None and osp.isdir(f'/proc/{pid.group(1)}'):
            who = f'another study ({holder})'
        else:
            who = (f'training/testing processes of a study that has ended '
                   f'({holder}; look for processes with {work_dir} in their '
                   'command line)')
        raise SystemExit(
            f'compare_methods.py: the work dir {work_dir} is in use by '
            f'{who}, lock {path}; wait for them to end or stop them before '
            'running a study there.') from None
    os.ftruncate(fd, 0)
    os.write(fd, f'PID {os.getpid()}, started '
             f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode())
    return fd


def _install_handlers(handler: Callable) -> Dict[int, object]:
    """Make ``handler`` the SIGINT/SIGTERM handler (main thread only).

    Returns:
        dict: The previous handlers, for :func:`_restore_handlers`.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_handlers(previous: Dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _run_all(jobs: List[tuple], args: argparse.Namespace, threads: int,
             progress: Progress, children: ChildProcesses) -> dict:
    """Run the jobs, ``--jobs`` at a time, until all ended, a run failed
    or a signal stopped the study.

    Returns:
        dict: ``dict(results, failed, interrupted, not_started)``:
        ``{(name, seed): result}``, ``[(tag, error)]``,
        ``[(tag, stage, run_dir)]`` and ``[tag]``, in job order.
    """
    counter = dict(done=0)

    def one(job):
        method, seed = job
        try:
            result = train_and_test(method, seed, args, threads, progress,
                                    children)
        except RunInterrupted:
            raise
        except Exception:
            # before this thread takes the next job
            children.stop_launching()
            raise
        with progress.lock:
            counter['done'] += 1
            done = counter['done']
        progress(f'{done}/{len(jobs)} runs finished')
        return result

    previous = _install_handlers(children.stop)
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures: List[Future] = [pool.submit(one, job) for job in jobs]
            pending = set(futures)
            announced = failed_seen = False
            while pending:
                _, pending = wait_futures(
                    pending, timeout=0.2, return_when=FIRST_COMPLETED)
                if children.stopping and not announced:
                    announced = True
                    progress(f'{signal.Signals(children.signum).name} '
                             'received: stopping the running tools (SIGKILL '
                             f'after {children.grace:g} s), starting no '
                             'new run')
                if not children.launching and not failed_seen:
                    failed_seen = True
                    progress('a run failed: starting no new run')
                if children.stopping or not children.launching:
                    for future in pending:
                        future.cancel()
                children.kill_overdue()
    finally:
        _restore_handlers(previous)
    out = dict(results={}, failed=[], interrupted=[], not_started=[])
    for (method, seed), future in zip(jobs, futures):
        tag = f'{method[0]} seed {seed}'
        if future.cancelled():
            out['not_started'].append(tag)
            continue
        error = future.exception()
        if error is None:
            out['results'][(method[0], seed)] = future.result()
        elif isinstance(error, RunInterrupted):
            if error.stage is None:
                out['not_started'].append(tag)
            else:
                run_dir = osp.join(args.work_dir, method[0], f'seed{seed}')
                out['interrupted'].append((tag, error.stage, run_dir))
        else:
            out['failed'].append((tag, error))
    return out


def _stop_message(outcome: dict, signum: Optional[int]) -> str:
    """What stopped the study, which runs did not finish and why."""
    lines = []
    if signum is not None:
        lines.append(f'compare_methods.py: stopped by '
                     f'{signal.Signals(signum).name}.')
    for tag, error in outcome['failed']:
        lines.append(f'compare_methods.py: run {tag} failed: '
                     f'{type(error).__name__}: {error}')
        if not isinstance(error, (RuntimeError, OSError)):
            # not a tool's failure: an error of this tool, with its trace
            lines.append(''.join(
                traceback.format_exception(
                    type(error), error, error.__traceback__)).rstrip())
    if outcome['interrupted']:
        lines.append('Interrupted runs (marked unfinished in '
                     f'{INTERRUPTED}; the next study runs them again):')
        lines += [
            f'  {tag} (during {stage}; {run_dir})'
            for tag, stage, run_dir in outcome['interrupted']
        ]
    if outcome['not_started']:
        why = ('the study stops at the first failed run'
               if signum is None else 'stopped before they started')
        lines.append(f'Runs not started ({why}): '
                     f'{", ".join(outcome["not_started"])}')
    lines.append('Finished runs are kept; running the same command again '
                 'reuses them.')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    """Run the study.

    Returns:
        dict: See :func:`report`.

    Raises:
        SystemExit: A run failed (code 1) or a signal stopped the study
            (code 128 + the signal number); the message names the runs.
    """
    # the configs import this checkout's mmmtcp (custom_imports)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    lock = lock_work_dir(args.work_dir)
    try:
        return _study(args, lock)
    finally:
        os.close(lock)


def _study(args: argparse.Namespace, lock: int) -> dict:
    """Run the study of :func:`main` with the work dir locked by the file
    descriptor ``lock`` (which the tools inherit)."""
    progress = Progress()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    # method-major: list the slowest method first and the parallel jobs end
    # with the quick runs
    jobs = [(method, seed) for method in args.method for seed in args.seeds]
    progress(f'{len(args.method)} methods x {len(args.seeds)} seeds = '
             f'{len(jobs)} runs, {args.jobs} at a time with {threads} '
             f'thread(s) each; work dir {args.work_dir}')
    children = ChildProcesses(args.kill_timeout, pass_fds=(lock, ))
    outcome = _run_all(jobs, args, threads, progress, children)
    if children.stopping or outcome['failed']:
        print(_stop_message(outcome, children.signum), file=sys.stderr,
              flush=True)
        raise SystemExit(128 + children.signum if children.stopping else 1)
    runs: Dict[str, Dict[int, dict]] = {m[0]: {} for m in args.method}
    for (name, seed), result in outcome['results'].items():
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
