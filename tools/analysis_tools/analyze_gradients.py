"""Summarize per-loss gradient audits of the shared trunk.

Two modes:

- ``LOG``: a ``grad_audit.jsonl`` written by ``GradientAuditHook``, or a
  work dir holding one (searched recursively; the newest is used);
- ``--config``: audit ``--batches`` batches of a config's training data
  loader now, with the config's initialization (``--seed``, default the
  config's ``randomness.seed``, so the weights are those a training run
  with that seed starts from) or a ``--checkpoint``; the records are
  written to ``<work-dir>/grad_audit.jsonl``.

Both print a table (per term: kind, task, gradient norm averaged over the
audits, first and last; per audit: ``|g_side| / |g_main|`` and the cosine
of the summed side and main gradients, overall and per task) and write a
figure (``--out``, default ``grad_audit.png`` next to the JSON lines): the
cosine matrix of the terms averaged over the audits and a bar chart of the
mean norms.

Examples::

    python tools/analysis_tools/analyze_gradients.py work_dirs/my_run
    python tools/analysis_tools/analyze_gradients.py \\
        --config configs/mtcp/mtcp_demo_synthetic_no-lps.py --batches 2 \\
        --cfg-options train_dataloader.dataset.data_root=/tmp/scenes
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# this checkout's mmmtcp first, whichever one the environment has installed
sys.path.insert(0, ROOT)
from mmmtcp.utils.config import CfgOptionsAction  # noqa: E402  # isort:skip

LOG_NAME = 'grad_audit.jsonl'
KIND_COLORS = dict(main='tab:blue', side='tab:orange', other='tab:green')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Summarize per-loss gradient audits (grad_audit.jsonl of '
        'GradientAuditHook), or audit batches of a config')
    parser.add_argument(
        'log',
        nargs='?',
        help=f'a {LOG_NAME} or a work dir containing one (the newest is '
        'used); not with --config')
    parser.add_argument(
        '--config', help='audit the training batches of this config')
    parser.add_argument(
        '--checkpoint',
        help='with --config: weights to audit (default: the config\'s '
        'initialization)')
    parser.add_argument(
        '--batches',
        type=int,
        default=1,
        help='with --config: number of training batches to audit')
    parser.add_argument(
        '--param-prefixes',
        nargs='+',
        default=['backbone', 'neck'],
        help='with --config: name prefixes of the audited (shared) '
        'parameters')
    parser.add_argument(
        '--seed',
        type=int,
        default=None,
        help='with --config: random seed of the initialization and the data '
        'loader (default: the config\'s randomness.seed, else 0)')
    parser.add_argument(
        '--random-init',
        action='store_true',
        help='with --config: drop `pretrained` and Pretrained `init_cfg` '
        'weights (nothing is downloaded)')
    parser.add_argument(
        '--device',
        default=None,
        help='with --config: device of the model (default: cuda when '
        'available, else cpu)')
    parser.add_argument(
        '--work-dir',
        help=f'with --config: where {LOG_NAME} is written (default: '
        './work_dirs/analyze_gradients/<config name>)')
    parser.add_argument(
        '--out',
        help='figure path (default: grad_audit.png next to the JSON lines)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='with --config: override settings of the config, e.g. '
        'train_dataloader.dataset.data_root=/tmp/scenes')
    args = parser.parse_args(argv)
    if (args.log is None) == (args.config is None):
        parser.error('give either LOG or --config')
    if args.config is None:
        given = [
            flag for flag, value in (('--checkpoint', args.checkpoint),
                                     ('--cfg-options', args.cfg_options),
                                     ('--work-dir', args.work_dir),
                                     ('--seed', args.seed),
                                     ('--device', args.device))
            if value is not None
        ]
        if args.random_init:
            given.append('--random-init')
        if given:
            parser.error(f'{", ".join(given)} only apply with --config')
    if args.batches < 1:
        parser.error(f'--batches must be >= 1, got {args.batches}')
    return args


# ---------------------------------------------------------------------------
# reading and summarizing records
def find_log(path: str) -> str:
    """The ``grad_audit.jsonl`` at ``path``, or the newest one under it.

    Args:
        path (str): A JSON-lines file or a directory.

    Returns:
        str: Path of the file.
    """
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise SystemExit(f'{path}: no such file or directory')
    found = glob.glob(osp.join(path, '**', LOG_NAME), recursive=True)
    if not found:
        raise SystemExit(f'No {LOG_NAME} under {path}; train with '
                         "custom_hooks=[dict(type='GradientAuditHook')]")
    return max(found, key=osp.getmtime)


def read_records(path: str) -> List[dict]:
    """The audit records (one JSON object per line) of a file."""
    records = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SystemExit(f'{path}:{number}: not a JSON line ({e})')
    if not records:
        raise SystemExit(f'{path} holds no audit')
    return records


def _num(value) -> float:
    return math.nan if value is None else float(value)


def summarize(records: List[dict]) -> dict:
    """Statistics over the audits.

    Args:
        records (list[dict]): Audit records (``GradientAuditHook`` lines).

    Returns:
        dict: ``terms`` (in order of first appearance), ``kinds``,
        ``term_tasks``, per-term ``mean``/``first``/``last`` norms (over
        the audits the term appears in), ``cosine`` (the mean cosine
        matrix, NaN entries ignored), ``tasks`` (tasks with side terms),
        ``audits`` (per audit: ``iter``, ratio, cosine and per-task
        values) and ``groups`` (mean group norms).
    """
    terms: List[str] = []
    kinds: Dict[str, str] = {}
    term_tasks: Dict[str, Optional[str]] = {}
    for record in records:
        for term in record['terms']:
            if term not in terms:
                terms.append(term)
                kinds[term] = record['kinds'][term]
                term_tasks[term] = record['term_tasks'][term]
    index = {t: i for i, t in enumerate(terms)}
    n = len(terms)
    norms = {t: [] for t in terms}
    cos_sum = np.zeros((n, n))
    cos_count = np.zeros((n, n))
    tasks: List[str] = []
    audits = []
    for record in records:
        for term in record['terms']:
            norms[term].append(_num(record['norms'][term]))
        ids = [index[t] for t in record['terms']]
        matrix = np.array([[_num(v) for v in row] for row in record['cosine']],
                          dtype=float).reshape(len(ids), len(ids))
        valid = np.isfinite(matrix)
        block = np.ix_(ids, ids)
        cos_sum[block] += np.where(valid, matrix, 0.0)
        cos_count[block] += valid
        per_task = {}
        for task, values in record['tasks'].items():
            if not values['side_terms']:
                continue
            if task not in tasks:
                tasks.append(task)
            per_task[task] = (_num(values['side_main_ratio']),
                              _num(values['side_main_cos']))
        audits.append(
            dict(
                iter=record['iter'],
                ratio=_num(record['side_main_ratio']),
                cos=_num(record['side_main_cos']),
                tasks=per_task))
    with np.errstate(invalid='ignore', divide='ignore'):
        cosine = np.where(cos_count > 0, cos_sum / np.maximum(cos_count, 1),
                          np.nan)
    groups = {
        key: float(np.mean([_num(r['groups'][key]) for r in records]))
        for key in ('main', 'side', 'other', 'total')
    }
    return dict(
        terms=terms,
        kinds=kinds,
        term_tasks=term_tasks,
        mean={t: float(np.mean(v)) for t, v in norms.items()},
        first={t: v[0] for t, v in norms.items()},
        last={t: v[-1] for t, v in norms.items()},
        cosine=cosine,
        tasks=tasks,
        audits=audits,
        groups=groups,
        num_params=records[-1].get('num_params'),
        param_prefixes=records[-1].get('param_prefixes'))


def _fmt(value: float, width: int = 10) -> str:
    text = 'n/a' if not math.isfinite(value) else f'{value:.4g}'
    return f'{text:>{width}}'


def _nanmean(values: List[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def format_summary(summary: dict, source: str) -> str:
    """The printed report of :func:`summarize`.

    Args:
        summary (dict): Output of :func:`summarize`.
        source (str): What was audited (shown in the title).

    Returns:
        str: The table.
    """
    audits = summary['audits']
    iters = [a['iter'] for a in audits]
    prefixes = ', '.join(summary['param_prefixes'] or [])
    num_params = summary['num_params']
    size = f'{num_params:,} parameters' if num_params else 'parameters'
    lines = [
        f'Gradient audit of {source}: {len(audits)} audit(s) (iterations '
        f'{iters[0]}..{iters[-1]}), {size} ({prefixes})', '',
        'gradient L2 norm per loss term'
    ]
    width = max(len('term'), *(len(t) for t in summary['terms']))
    task_width = max(len('task'), *(len(str(summary['term_tasks'][t] or '-'))
                                    for t in summary['terms']))
    lines.append(f'{"term":<{width}}  {"kind":<5}  {"task":<{task_width}}  '
                 f'{"mean":>10}  {"first":>10}  {"last":>10}')
    for term in summary['terms']:
        task = summary['term_tasks'][term] or '-'
        lines.append(
            f'{term:<{width}}  {summary["kinds"][term]:<5}  '
            f'{task:<{task_width}}  {_fmt(summary["mean"][term])}  '
            f'{_fmt(summary["first"][term])}  {_fmt(summary["last"][term])}')
    groups = summary['groups']
    lines.append('norm of the summed gradients (mean): ' + '  '.join(
        f'{k} {_fmt(v, 0)}' for k, v in groups.items()))
    lines += ['', 'side vs main: |g_side| / |g_main| and cos(g_side, g_main)']
    header = f'{"iter":>6}  {"ratio":>10}  {"cos":>10}'
    for task in summary['tasks']:
        header += f'  {task + " ratio":>14}  {task + " cos":>14}'
    lines.append(header)
    rows = [(str(a['iter']), a) for a in audits]
    mean_row = dict(
        ratio=_nanmean([a['ratio'] for a in audits]),
        cos=_nanmean([a['cos'] for a in audits]),
        tasks={
            t: (_nanmean([a['tasks'].get(t, (math.nan, ))[0]
                          for a in audits]),
                _nanmean([a['tasks'].get(t, (math.nan, math.nan))[1]
                          for a in audits]))
            for t in summary['tasks']
        })
    if len(audits) > 1:
        rows.append(('mean', mean_row))
    for label, a in rows:
        line = f'{label:>6}  {_fmt(a["ratio"])}  {_fmt(a["cos"])}'
        for task in summary['tasks']:
            ratio, cos = a['tasks'].get(task, (math.nan, math.nan))
            line += f'  {_fmt(ratio, 14)}  {_fmt(cos, 14)}'
        lines.append(line)
    return '\n'.join(lines)


def plot(summary: dict, out: str, title: str) -> None:
    """Write the mean cosine matrix and the mean norms as a PNG.

    Args:
        summary (dict): Output of :func:`summarize`.
        out (str): Figure path.
        title (str): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    terms = summary['terms']
    labels = [t[len('loss_'):] if t.startswith('loss_') else t for t in terms]
    n = len(terms)
    size = max(4.0, 0.45 * n + 2.5)
    fig, (ax_cos, ax_norm) = plt.subplots(
        1, 2, figsize=(2 * size + 1, size), constrained_layout=True)
    matrix = np.ma.masked_invalid(summary['cosine'])
    image = ax_cos.imshow(matrix, cmap='RdBu_r', vmin=-1, vmax=1)
    ax_cos.set_xticks(range(n), labels, rotation=90)
    ax_cos.set_yticks(range(n), labels)
    if n <= 16:
        for i in range(n):
            for j in range(n):
                value = summary['cosine'][i, j]
                if math.isfinite(value):
                    ax_cos.text(j, i, f'{value:.2f}', ha='center',
                                va='center', fontsize=7,
                                color='white' if abs(value) > 0.6 else
                                'black')
    fig.colorbar(image, ax=ax_cos, shrink=0.8, label='mean cosine')
    ax_cos.set_title('cosine between the terms\' gradients')
    means = [summary['mean'][t] for t in terms]
    colors = [KIND_COLORS.get(summary['kinds'][t], 'gray') for t in terms]
    ax_norm.barh(range(n), [v if math.isfinite(v) else 0 for v in means],
                 color=colors)
    ax_norm.set_yticks(range(n), labels)
    ax_norm.invert_yaxis()
    positive = [v for v in means if math.isfinite(v) and v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax_norm.set_xscale('log')
    ax_norm.set_xlabel('gradient L2 norm (mean over audits)')
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=c) for k, c in KIND_COLORS.items()
        if k in summary['kinds'].values()
    ]
    ax_norm.legend(handles,
                   [k for k in KIND_COLORS if k in summary['kinds'].values()])
    ax_norm.set_title('gradient norm per term')
    fig.suptitle(title)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches='tight')
    plt.close(fig)


# ---------------------------------------------------------------------------
# auditing a config
def _strip_init_helper():
    """``_strip_init`` of ``tools/benchmarks/benchmark_train_step.py``."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'benchmark_train_step',
        osp.join(ROOT, 'tools', 'benchmarks', 'benchmark_train_step.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._strip_init


def audit_config(args: argparse.Namespace) -> List[dict]:
    """Audit ``args.batches`` training batches of ``args.config``.

    Args:
        args (argparse.Namespace): Parsed command line.

    Returns:
        list[dict]: One audit record per batch (``iter`` = batch number).
    """
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint, set_random_seed

    import mmmtcp  # noqa: F401  (registers mmmtcp modules, safe loading)
    from mmmtcp.engine.gradient_audit import audit_gradients, audit_record
    from mmseg.registry import MODELS

    # the parameter-by-parameter initialization report of init_weights()
    # (INFO) is left out
    MMLogger.get_instance('analyze_gradients', log_level='WARNING')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if args.random_init:
        _strip_init_helper()(cfg.model)
    seed = args.seed
    if seed is None:
        seed = (cfg.get('randomness') or {}).get('seed')
    seed = 0 if seed is None else seed
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model.to(device).train()
    loader_cfg = cfg.get('train_dataloader')
    if not loader_cfg:
        raise SystemExit(f'{args.config} has no `train_dataloader`')
    loader_cfg = loader_cfg.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    records = []
    for index, batch in enumerate(loader):
        if index == args.batches:
            break
        result = audit_gradients(model, batch, tuple(args.param_prefixes))
        records.append(audit_record(result, index + 1))
    return records


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.config is not None:
        records = audit_config(args)
        work_dir = args.work_dir or osp.join(
            'work_dirs', 'analyze_gradients',
            osp.splitext(osp.basename(args.config))[0])
        os.makedirs(work_dir, exist_ok=True)
        log = osp.join(work_dir, LOG_NAME)
        with open(log, 'w') as f:
            for record in records:
                f.write(json.dumps(record) + '\n')
        source = f'{args.config} ({args.checkpoint or "initialization"})'
    else:
        log = find_log(args.log)
        records = read_records(log)
        source = log
    summary = summarize(records)
    print(format_summary(summary, source))
    out = args.out or osp.join(osp.dirname(osp.abspath(log)),
                               'grad_audit.png')
    plot(summary, out, osp.basename(args.config or osp.dirname(
        osp.abspath(log))))
    print(f'\nrecords: {log}\nfigure: {out}')


if __name__ == '__main__':
    main()
