"""End-to-end demo on CPU: a seeded study of MT-CP against the plain
multi-task baseline on procedurally generated scenes.

1. Writes the synthetic scene data set (NYUD-v2 layout) unless it is
   already there.
2. Runs ``tools/analysis_tools/compare_methods.py`` with three methods and
   three seeds: the plain baseline (same backbone and task decoders, no
   CFM/SRM, losses summed), MT-CP without the Loss Prioritization Scheme,
   and MT-CP (CFM, trace-back, LPS). Every run trains with
   ``tools/train.py`` and is evaluated with ``tools/test.py`` (every task
   metric and the cross-task coherence measures).
3. Prints the mean ± std table, the delta_m of each MT-CP variant against
   the baseline paired by seed, the coherence measures and whether
   MT-CP's gain is larger than the seed-to-seed spread.

Usage:
    python tools/demo.py [--work-dir work_dirs/demo] [--iters 140]
        [--seeds 0 1 2] [--jobs 2]
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
import time
from typing import List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the slowest runs first, so that two parallel jobs finish together
METHODS = [
    ('MT-CP', 'configs/mtcp/mtcp_demo_synthetic.py'),
    ('MT-CP-no-LPS', 'configs/mtcp/mtcp_demo_synthetic_no-lps.py'),
    ('baseline', 'configs/baseline/mt_baseline_demo_synthetic.py'),
]
# the ablation adds one MT-CP part at a time; runs of the same name and
# settings are shared with the demo's study
ABLATION = [
    ('baseline', 'configs/baseline/mt_baseline_demo_synthetic.py'),
    ('MT-CP-CFM-only', 'configs/mtcp/mtcp_demo_synthetic_no-lps.py',
     'model.decode_head.trace_levels=0'),
    ('MT-CP-no-LPS', 'configs/mtcp/mtcp_demo_synthetic_no-lps.py'),
    ('MT-CP', 'configs/mtcp/mtcp_demo_synthetic.py'),
    ('MT-CP-contrastive',
     'configs/contrastive/contrastive_mtcp_demo_synthetic.py'),
    ('MT-CP-no-LPS-detached', 'configs/mtcp/mtcp_demo_synthetic_no-lps.py',
     'model.decode_head.detach_branch=True'),
    # the demo pools the affinity's sending positions by 2
    # (attn_downsample=2); this is the exact affinity over all positions
    ('MT-CP-no-LPS-full-affinity',
     'configs/mtcp/mtcp_demo_synthetic_no-lps.py',
     'model.decode_head.cfm.attn_downsample=1'),
]
COHERENCE = [('coherence.normal_depth_angle', 'normals vs depth (deg)'),
             ('coherence.edge_seg_F', 'edges vs seg. boundaries (F %)')]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmmtcp CPU demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root',
                        default='data/synthetic_scenes_120x160')
    parser.add_argument('--height', type=int, default=120)
    parser.add_argument('--width', type=int, default=160)
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--iters', type=int, default=140)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--jobs', type=int, default=2, help='runs trained in parallel')
    parser.add_argument('--workers', type=int, default=0,
                        help='dataloader workers per run')
    parser.add_argument(
        '--ablation', action='store_true',
        help='add MT-CP with the CFM only (no trace-back), MT-CP with the '
        'contrastive regularizer, MT-CP without LPS whose branch does not '
        'back-propagate into the decoders (detach_branch=True) and MT-CP '
        'without LPS with the affinity over all positions '
        '(attn_downsample=1): baseline, +CFM, +trace-back, +LPS, '
        '+contrastive, detached, full affinity')
    parser.add_argument('--force', action='store_true',
                        help='retrain finished runs')
    parser.add_argument(
        '--verbose', action='store_true', help='show the full logs')
    return parser.parse_args(argv)


def load_tool():
    """The study tool, imported from its file."""
    spec = importlib.util.spec_from_file_location(
        'compare_methods',
        osp.join(ROOT, 'tools', 'analysis_tools', 'compare_methods.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def study_argv(args: argparse.Namespace, data_root: str) -> List[str]:
    """Command line of the study for the demo settings."""
    argv = []
    for method in (ABLATION if args.ablation else METHODS):
        argv += ['--method', *method]
    opts = [
        f'train_cfg.max_iters={args.iters}',
        f'train_cfg.val_interval={args.iters + 1}',
        f'param_scheduler.0.end={args.iters}',
        f'default_hooks.checkpoint.interval={args.iters}',
        f'train_dataloader.batch_size={args.batch_size}',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [
            f'{loader}.dataset.data_root={data_root}',
            f'{loader}.num_workers={args.workers}',
            f'{loader}.persistent_workers={args.workers > 0}',
        ]
    argv += [
        '--seeds', *map(str, args.seeds), '--reference', 'baseline',
        '--work-dir', args.work_dir, '--jobs', str(args.jobs),
        '--title', f'synthetic scenes, {args.iters} iterations, seeds '
        f'{args.seeds}', '--cfg-options', *opts
    ]
    if args.force:
        argv.append('--force')
    if args.verbose:
        argv.append('--verbose')
    return argv


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    os.chdir(ROOT)
    sys.path.insert(0, ROOT)
    from mmmtcp.datasets import generate_scenes

    data_root = osp.abspath(args.data_root)
    args.work_dir = osp.abspath(args.work_dir)
    present = None
    split_dir = osp.join(data_root, 'gt_sets')
    if osp.isfile(osp.join(split_dir, 'train.txt')) and osp.isfile(
            osp.join(split_dir, 'val.txt')):
        present = tuple(
            sum(1 for line in open(osp.join(split_dir, f'{s}.txt'))
                if line.strip()) for s in ('train', 'val'))
    if present != (args.num_train, args.num_val):
        print(f'[demo] writing {args.num_train}+{args.num_val} synthetic '
              f'scenes to {data_root}', flush=True)
        generate_scenes(data_root, num_train=args.num_train,
                        num_val=args.num_val, height=args.height,
                        width=args.width, seed=0, overwrite=True)
    else:
        print(f'[demo] using the synthetic scenes in {data_root}', flush=True)

    out = load_tool().main(study_argv(args, data_root))
    summary, paired = out['summary'], out['paired_delta_m']
    methods = ABLATION if args.ablation else METHODS
    print('\nCross-task coherence (mean ± std over seeds; the ground truth '
          'itself is the level of a perfect model):')
    for key, label in COHERENCE:
        cells = []
        for name, *_ in methods:
            entry = summary[name].get(key)
            if entry and entry['n']:
                cells.append(f'{name} {entry["mean"]:.2f} ± '
                             f'{entry["std"]:.2f}')
        gt = summary['baseline'].get(key.replace('coherence.',
                                                    'coherence_gt.'))
        if gt and gt['n']:
            cells.append(f'ground truth {gt["mean"]:.2f}')
        print(f'  {label}: ' + ', '.join(cells))
    print('\nMulti-task gain against the baseline, paired by seed:')
    for name, *_ in methods:
        if name == 'baseline':
            continue
        per_seed = ', '.join(f'seed {s}: {v:+.2f}'
                             for s, v in paired[name]['per_seed'].items())
        print(f'  {name}: delta_m {paired[name]["mean"]:+.2f} ± '
              f'{paired[name]["std"]:.2f} % ({per_seed})')
    print()
    for line in out['verdicts']:
        if line.startswith('MT-CP vs'):
            print(line)
    minutes, seconds = divmod(int(time.time() - start), 60)
    print(f'\n[demo] done in {minutes} min {seconds} s; '
          f'per-run logs and checkpoints in {args.work_dir}/<method>/'
          'seed<seed>/ (pictures of a run: tools/test.py CONFIG CHECKPOINT '
          '--show-dir DIR)')
    return out


if __name__ == '__main__':
    main()
