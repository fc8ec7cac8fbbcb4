"""End-to-end demo on CPU: synthetic scenes -> MT-CP and a plain
multi-task baseline -> evaluation table and pictures.

1. Writes the procedurally generated scene data set (NYUD-v2 layout) unless
   it is already there.
2. Trains the tiny MT-CP demo config (with the Loss Prioritization Scheme)
   and the plain multi-task baseline (same backbone and task decoders, no
   CFM/SRM, fixed task weights) with ``tools/train.py``.
3. Evaluates both with ``tools/test.py`` (every task metric and the
   cross-task coherence), writes one picture per validation image and the raw
   predictions, and prints a results table. ``delta_m`` of MT-CP is computed
   against the baseline's numbers.

Usage:
    python tools/demo.py [--work-dir work_dirs/demo] [--iters 300]
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS = [
    ('MT-CP', 'configs/mtcp/mtcp_demo_synthetic.py'),
    ('baseline', 'configs/baseline/mt_baseline_demo_synthetic.py'),
]
# rows of the table: (metric key, label, lower is better)
ROWS = [
    ('semseg.mIoU', 'semseg mIoU (%)', False),
    ('semseg.aAcc', 'semseg pixel acc. (%)', False),
    ('depth.rmse', 'depth RMSE (m)', True),
    ('depth.abs_rel', 'depth abs-rel', True),
    ('normals.mean', 'normals mean error (deg)', True),
    ('normals.median', 'normals median error (deg)', True),
    ('normals.within_11_25', 'normals < 11.25 deg (%)', False),
    ('edge.odsF', 'edge odsF (%)', False),
    ('edge.oisF', 'edge oisF (%)', False),
    ('coherence.normal_depth_angle', 'coherence: normals vs depth (deg)',
     True),
    ('coherence.edge_seg_F', 'coherence: edges vs seg. boundaries (%)',
     False),
    ('delta_m', 'delta_m vs baseline (%)', False),
]
PRIMARY = {'semseg': 'mIoU', 'depth': 'rmse', 'normals': 'mean',
           'edge': 'odsF'}
ITER = re.compile(r'Iter\((train|val|test)\)\s*\[\s*(\d+)/(\d+)\]')
ETA = re.compile(r'eta: (\S+)')
LOSS = re.compile(r'\sloss: ([-\d.e]+)')
PROBLEM = ('Traceback', 'Error:', 'Warning: ', 'NaN', 'nan_policy')


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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmmtcp CPU demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/synthetic_scenes')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--verbose', action='store_true', help='show the full training log')
    return parser.parse_args(argv)


class Progress:

    def __init__(self):
        self.start = time.time()

    def __call__(self, msg: str) -> None:
        elapsed = time.time() - self.start
        print(f'[demo {elapsed // 60:02.0f}:{elapsed % 60:02.0f}] {msg}',
              flush=True)


def run(cmd: List[str], log_file: str, verbose: bool) -> None:
    """Run a tool, stream its progress lines, keep the full log."""
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
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
                print('    ' + shown, flush=True)
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed with exit code '
                           f'{proc.returncode}; see {log_file}')


def data_options(data_root: str, args: argparse.Namespace) -> List[str]:
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [
            f'{loader}.dataset.data_root={data_root}',
            f'{loader}.num_workers={args.workers}',
            f'{loader}.persistent_workers={args.workers > 0}',
        ]
    return opts


def latest_metrics(test_dir: str) -> Dict[str, float]:
    files = sorted(glob.glob(osp.join(test_dir, '*', '*.json')))
    if not files:
        raise FileNotFoundError(f'No metrics file in {test_dir}')
    with open(files[-1]) as f:
        return json.load(f)


def train_and_test(name: str, config: str, args: argparse.Namespace,
                   data_root: str, progress: Progress,
                   baselines: Optional[Dict] = None) -> Dict[str, float]:
    work_dir = osp.join(args.work_dir, name)
    os.makedirs(work_dir, exist_ok=True)
    common = data_options(data_root, args)
    progress(f'training {name} ({config}, {args.iters} iterations)')
    run([
        'tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
        f'train_cfg.max_iters={args.iters}',
        f'train_cfg.val_interval={args.iters + 1}',
        f'param_scheduler.0.end={args.iters}',
        f'default_hooks.checkpoint.interval={args.iters}',
        f'train_dataloader.batch_size={args.batch_size}',
        f'randomness.seed={args.seed}', *common
    ], osp.join(work_dir, 'train.log'), args.verbose)
    ckpt = osp.join(work_dir, f'iter_{args.iters}.pth')
    progress(f'evaluating {name} on {args.num_val} validation scenes')
    test_opts = ['test_evaluator.coherence=True']
    for task, value in (baselines or {}).items():
        test_opts.append(f'test_evaluator.baselines.{task}={value}')
    run([
        'tools/test.py', config, ckpt, '--work-dir',
        osp.join(work_dir, 'test'), '--show-dir',
        osp.join(work_dir, 'pictures'), '--out',
        osp.join(work_dir, 'predictions'), '--cfg-options', *common,
        *test_opts
    ], osp.join(work_dir, 'test.log'), args.verbose)
    return latest_metrics(osp.join(work_dir, 'test'))


def format_table(results: Dict[str, Dict[str, float]]) -> str:
    names = list(results)
    head = f'| {"metric":42s} | ' + ' | '.join(f'{n:>9s}' for n in names)
    head += ' | ground truth |'
    lines = [head, '|' + '-' * 44 + '|' +
             '|'.join(['-' * 11] * len(names)) + '|--------------|']
    first = results[names[0]]
    for key, label, lower in ROWS:
        if not any(key in r for r in results.values()):
            continue
        arrow = '↓' if lower else '↑'
        cells = []
        for n in names:
            value = results[n].get(key)
            cells.append(f'{value:9.3f}' if value is not None else
                         f'{"-":>9s}')
        gt_key = key.replace('coherence.', 'coherence_gt.')
        gt = first.get(gt_key) if key.startswith('coherence.') else None
        gt_cell = f'{gt:12.3f}' if gt is not None else f'{"":12s}'
        lines.append(f'| {label + " " + arrow:42s} | ' + ' | '.join(cells) +
                     f' | {gt_cell} |')
    return '\n'.join(lines)


def main(argv=None) -> Dict[str, Dict[str, float]]:
    args = parse_args(argv)
    progress = Progress()
    os.chdir(ROOT)
    sys.path.insert(0, ROOT)
    from mmmtcp.datasets import generate_scenes

    data_root = osp.abspath(args.data_root)
    split_file = osp.join(data_root, 'gt_sets', 'train.txt')
    expected = (args.num_train, args.num_val)
    present = None
    if osp.isfile(split_file):
        with open(split_file) as f:
            n_train = sum(1 for line in f if line.strip())
        with open(osp.join(data_root, 'gt_sets', 'val.txt')) as f:
            n_val = sum(1 for line in f if line.strip())
        present = (n_train, n_val)
    if present != expected:
        progress(f'writing {args.num_train}+{args.num_val} synthetic scenes '
                 f'to {data_root}')
        generate_scenes(
            data_root,
            num_train=args.num_train,
            num_val=args.num_val,
            seed=args.seed,
            overwrite=True)
    else:
        progress(f'using the synthetic scenes in {data_root}')

    results = {}
    base_cfg = MODELS[1]
    results_base = train_and_test(base_cfg[0], base_cfg[1], args, data_root,
                                  progress)
    baselines = {t: results_base[f'{t}.{m}'] for t, m in PRIMARY.items()
                 if f'{t}.{m}' in results_base}
    results['MT-CP'] = train_and_test(MODELS[0][0], MODELS[0][1], args,
                                      data_root, progress, baselines)
    results['baseline'] = results_base

    table = format_table(results)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    progress('done')
    print()
    print(table)
    print()
    print(f'Pictures: {args.work_dir}/<model>/pictures, raw predictions: '
          f'{args.work_dir}/<model>/predictions, table: '
          f'{args.work_dir}/results.md')
    return results


if __name__ == '__main__':
    main()
