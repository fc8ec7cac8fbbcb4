"""End-to-end demo on CPU: a seeded study of MT-CP against the plain
multi-task baseline on procedurally generated scenes, in the regime of the
released MT-CP code (every method starts from a trunk pretrained for
segmentation).

1. Writes the synthetic scene data set (NYUD-v2 layout) unless it is
   already there.
2. Pretrains the trunk (the backbone) on segmentation of *other* synthetic
   scenes with ``tools/pretrain_trunk.py``, once: the trunk is cached,
   keyed by its config (``--scratch`` skips this and trains every method
   from scratch).
3. Runs ``tools/analysis_tools/compare_methods.py``: MT-CP in the setting
   the README's study found best, and the plain baseline (same trunk and
   task decoders, no CFM/SRM, losses summed), paired seeds. Every run trains
   with ``tools/train.py`` from the trunk and is evaluated with
   ``tools/test.py`` (every task metric and the cross-task coherence
   measures).
4. Prints the mean ± std table, the delta_m of MT-CP against the baseline
   paired by seed, the coherence measures, and the verdict: a gain or a
   loss larger than the seed-to-seed spread, or no conclusion.

Usage:
    python tools/demo.py [--work-dir work_dirs/demo] [--iters 560]
        [--seeds 0 1 2] [--jobs 2] [--scratch]
"""
import argparse
import importlib.util
import os
import os.path as osp
import shlex
import sys
import time
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_DATA_ROOT = 'data/synthetic_scenes_120x160'
# the slowest runs first, so that two parallel jobs finish together
MTCP = 'configs/mtcp/mtcp_demo_synthetic_no-lps.py'
BASELINE = 'configs/baseline/mt_baseline_demo_synthetic.py'
#: the trunk every method starts from (``tools/pretrain_trunk.py``)
PRETRAIN = 'configs/pretrain/seg_resnet_tiny_synthetic.py'
# the slowest runs first, so that two parallel jobs finish together. The
# MT-CP setting is the best of the README's study in the pretrained regime:
# the gated refinement without side losses (with them, MT-CP loses about as
# much as the baseline with the same side outputs on its own decoders).
METHODS = [
    ('gated-side0', MTCP, 'model.decode_head.side_loss_weight=0.0'),
    ('baseline', BASELINE),
]
#: what the names of the studies' methods stand for
LEGEND = {
    'gated': 'MT-CP without LPS (CFM + trace-back, gated refinement, side '
    'losses 0.5)',
    'gated-side0': 'MT-CP without LPS and without side losses',
    'gated-side0.1': 'MT-CP without LPS, side losses 0.1',
    'gated-g1': 'MT-CP without LPS, gates starting at 1',
    'gated-LPS': 'MT-CP with LPS (configs/mtcp/mtcp_demo_synthetic.py)',
    'residual': 'MT-CP without LPS, zero-initialized residual projection '
    'instead of the gate',
    'reference-wiring': "MT-CP without LPS, the released code's wiring "
    '(prediction from the trace-back only)',
    'control-side': 'the baseline with side outputs on its decoders (no '
    'CFM/SRM): the deep-supervision control',
    'baseline': 'the plain multi-task baseline',
}
# the study of the README ("MT-CP as its authors ran it"): one change at a
# time around MT-CP without LPS; runs of the same name and settings are
# shared between studies of the same work dir
ABLATION = [
    ('gated', MTCP),
    ('residual', MTCP, 'model.decode_head.refine=residual'),
    ('control-side', BASELINE, 'model.decode_head.side_levels=2'),
    ('gated-side0', MTCP, 'model.decode_head.side_loss_weight=0.0'),
    ('gated-LPS', 'configs/mtcp/mtcp_demo_synthetic.py'),
    ('reference-wiring', MTCP, 'model.decode_head.refine=reference'),
    ('gated-g1', MTCP, 'model.decode_head.gate_init=1.0'),
    ('gated-side0.1', MTCP, 'model.decode_head.side_loss_weight=0.1'),
    ('baseline', BASELINE),
]
COHERENCE = [('coherence.normal_depth_angle', 'normals vs depth (deg)'),
             ('coherence.edge_seg_F', 'edges vs seg. boundaries (F %)')]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmmtcp CPU demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default=DEFAULT_DATA_ROOT)
    parser.add_argument('--height', type=int, default=120)
    parser.add_argument('--width', type=int, default=160)
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--iters', type=int, default=560)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--jobs', type=int, default=2, help='runs trained in parallel')
    parser.add_argument('--workers', type=int, default=0,
                        help='dataloader workers per run')
    parser.add_argument(
        '--scratch', action='store_true',
        help='train every method from scratch instead of from the '
        'pretrained trunk')
    parser.add_argument(
        '--ablation', action='store_true',
        help="run the README's study instead: MT-CP without LPS with the "
        'gated and residual refinements, the released wiring, other side '
        'loss weights and gate starts, LPS, and the baseline with side '
        'outputs on its decoders (the deep-supervision control)')
    parser.add_argument('--force', action='store_true',
                        help='retrain finished runs')
    parser.add_argument(
        '--pretrain-args', default='',
        help='extra arguments of tools/pretrain_trunk.py, one quoted '
        'string (e.g. "--num-train 8 --cfg-options train_cfg.max_iters=50")')
    parser.add_argument(
        '--verbose', action='store_true', help='show the full logs')
    return parser.parse_args(argv)


def load_tool(path: str = 'tools/analysis_tools/compare_methods.py'):
    """A tool of this checkout (by default the study tool), imported from
    its file."""
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loader_options(args: argparse.Namespace,
                   data_root: Optional[str] = None) -> List[str]:
    """``--cfg-options`` of the three data loaders: the data root (when
    given) and the workers, loader by loader."""
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if data_root is not None:
            opts.append(f'{loader}.dataset.data_root={data_root}')
        opts += [
            f'{loader}.num_workers={args.workers}',
            f'{loader}.persistent_workers={args.workers > 0}',
        ]
    return opts


def study_argv(args: argparse.Namespace, data_root: str,
               trunk: Optional[str] = None) -> List[str]:
    """Command line of the study for the demo settings.

    Only options that differ from the configs are passed (the batch size
    and the data root when they are the configs' own), so that a study run
    with the same options by hand is the same run definition.
    """
    argv = []
    for method in (ABLATION if args.ablation else METHODS):
        argv += ['--method', *method]
    opts = [f'load_from={trunk}'] if trunk else []
    opts += [
        f'train_cfg.max_iters={args.iters}',
        f'train_cfg.val_interval={args.iters + 1}',
        f'param_scheduler.0.end={args.iters}',
        f'default_hooks.checkpoint.interval={args.iters}',
    ]
    if args.batch_size != 4:
        opts.append(f'train_dataloader.batch_size={args.batch_size}')
    default_root = osp.abspath(data_root) == osp.join(ROOT,
                                                      DEFAULT_DATA_ROOT)
    opts += loader_options(args, None if default_root else data_root)
    regime = 'from scratch' if trunk is None else 'pretrained trunk'
    argv += [
        '--seeds', *map(str, args.seeds), '--reference', 'baseline',
        '--work-dir', args.work_dir, '--jobs', str(args.jobs),
        '--title', f'synthetic scenes, {regime}, {args.iters} iterations, '
        f'seeds {args.seeds}', '--cfg-options', *opts
    ]
    if args.force:
        argv.append('--force')
    if args.verbose:
        argv.append('--verbose')
    return argv


def pretrained_trunk(args: argparse.Namespace) -> str:
    """Path of the cached pretrained trunk (pretrained on first use)."""
    options = loader_options(args)
    extra = shlex.split(args.pretrain_args)
    if '--cfg-options' in extra:  # one list of overrides, the user's last
        i = extra.index('--cfg-options') + 1
        extra[i:i] = options
    else:
        extra += ['--cfg-options', *options]
    return load_tool('tools/pretrain_trunk.py').main([PRETRAIN, *extra])


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

    trunk = None if args.scratch else pretrained_trunk(args)
    out = load_tool().main(study_argv(args, data_root, trunk))
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
    for name, *_ in methods:
        print(f'  {name}: {LEGEND.get(name, name)}')
    print()
    for line in out['verdicts']:
        print(line)
    minutes, seconds = divmod(int(time.time() - start), 60)
    print(f'\n[demo] done in {minutes} min {seconds} s; '
          f'per-run logs and checkpoints in {args.work_dir}/<method>/'
          'seed<seed>/ (pictures of a run: tools/test.py CONFIG CHECKPOINT '
          '--show-dir DIR)')
    return out


if __name__ == '__main__':
    main()
