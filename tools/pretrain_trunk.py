"""Pretrain a trunk (backbone + neck) once and cache it, keyed by its config.

The released MT-CP code starts every run from a trunk pretrained for
segmentation (an ADE20K Mask2Former). This tool gives the CPU studies the
same regime: it trains the pretraining config (a segmentation model whose
backbone and neck are those of the study's models) with ``tools/train.py``
on synthetic scenes *disjoint from the study's* (another generator seed),
keeps only the trunk's weights and caches them in

    ${MMMTCP_CACHE_DIR:-~/.cache/mmmtcp}/trunks/<config name>-<key>/trunk.pth

where ``<key>`` is a digest of the resolved config (after ``--cfg-options``)
and of the scene settings. A later call with the same config returns the
cached file at once. The file holds ``{'state_dict': ..., 'meta': ...}``
(plain tensors, loadable with ``weights_only=True``); a study starts from it
with ``--cfg-options load_from=<path>`` (the Runner loads it non-strictly:
the heads are not in it and keep their initialization).

Usage::

    python tools/pretrain_trunk.py configs/pretrain/seg_resnet_tiny_synthetic.py
        [--cache-dir DIR] [--num-train 400] [--num-val 20]
        [--height 120] [--width 160] [--scene-seed 1000] [--seed 0]
        [--cfg-options KEY=VALUE ...] [--force]

It prints the path of the trunk checkpoint on its last line.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's mmmtcp

#: Scene generator seed of the pretraining data; the studies' scenes use 0.
PRETRAIN_SCENE_SEED = 1000
#: Parameter-name prefixes kept in the trunk when the config names none.
DEFAULT_PREFIXES = ('backbone.', 'neck.')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pretrain a trunk (backbone + neck) on synthetic scenes '
        'and cache it, keyed by its config')
    parser.add_argument('config', help='pretraining config')
    parser.add_argument(
        '--cache-dir',
        default=osp.join(
            os.environ.get('MMMTCP_CACHE_DIR',
                           osp.join(osp.expanduser('~'), '.cache', 'mmmtcp')),
            'trunks'),
        help='where trunks (and their scenes) are cached')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=20)
    parser.add_argument('--height', type=int, default=120)
    parser.add_argument('--width', type=int, default=160)
    parser.add_argument(
        '--scene-seed', type=int, default=PRETRAIN_SCENE_SEED,
        help='generator seed of the pretraining scenes (the studies use 0)')
    parser.add_argument('--seed', type=int, default=0,
                        help='randomness.seed of the pretraining run')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='overrides of the pretraining config')
    parser.add_argument('--force', action='store_true',
                        help='pretrain again even if cached')
    return parser.parse_args(argv)


def resolved_config(config: str, options: List[str]):
    """The config with ``--cfg-options`` (``KEY=VALUE`` strings) applied."""
    from mmengine.config import Config

    from mmmtcp.utils.config import CfgOptionsAction
    cfg = Config.fromfile(config)
    if options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=CfgOptionsAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *options]).o)
    return cfg


def trunk_key(cfg, args: argparse.Namespace) -> str:
    """Digest of the resolved config and the scene settings.

    Args:
        cfg (Config): The resolved pretraining config.
        args (argparse.Namespace): Parsed arguments.

    Returns:
        str: 16 hex digits.
    """
    text = json.dumps(
        dict(config=cfg.pretty_text, num_train=args.num_train,
             num_val=args.num_val, height=args.height, width=args.width,
             scene_seed=args.scene_seed, seed=args.seed),
        sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def extract_trunk(checkpoint: str, prefixes: Sequence[str]) -> Dict:
    """The trunk's tensors of a training checkpoint.

    Args:
        checkpoint (str): A checkpoint written by the Runner.
        prefixes (Sequence[str]): Parameter-name prefixes to keep.

    Returns:
        dict: ``{name: tensor}`` of the kept parameters and buffers.
    """
    from mmmtcp.utils import safe_torch_load
    state = safe_torch_load(checkpoint, map_location='cpu')
    state = state.get('state_dict', state)
    trunk = {k: v for k, v in state.items() if k.startswith(tuple(prefixes))}
    if not trunk:
        raise ValueError(
            f'{checkpoint} has no parameter starting with {list(prefixes)} '
            '(`trunk_prefixes` of the pretraining config)')
    return trunk


def _scenes(args: argparse.Namespace) -> str:
    from mmmtcp.datasets import generate_scenes
    name = (f'scenes-seed{args.scene_seed}-{args.height}x{args.width}-'
            f'{args.num_train}+{args.num_val}')
    root = osp.join(args.cache_dir, name)
    if not osp.isfile(osp.join(root, 'gt_sets', 'val.txt')):
        print(f'[pretrain_trunk] writing {args.num_train}+{args.num_val} '
              f'scenes (seed {args.scene_seed}) to {root}', flush=True)
        generate_scenes(root, num_train=args.num_train, num_val=args.num_val,
                        height=args.height, width=args.width,
                        seed=args.scene_seed, overwrite=True)
    return root


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    args.config = osp.abspath(args.config)
    cfg = resolved_config(args.config, args.cfg_options)
    prefixes = tuple(
        p if p.endswith('.') else p + '.'
        for p in cfg.get('trunk_prefixes', DEFAULT_PREFIXES))
    name = osp.splitext(osp.basename(args.config))[0]
    out_dir = osp.join(args.cache_dir, f'{name}-{trunk_key(cfg, args)}')
    out = osp.join(out_dir, 'trunk.pth')
    if osp.isfile(out) and not args.force:
        print(f'[pretrain_trunk] cached: {out}', flush=True)
        print(out)
        return out
    os.makedirs(args.cache_dir, exist_ok=True)
    data_root = _scenes(args)
    work_dir = tempfile.mkdtemp(prefix=f'{name}.tmp-', dir=args.cache_dir)
    try:
        options = list(args.cfg_options) + [
            f'randomness.seed={args.seed}',
        ] + [
            f'{loader}.dataset.data_root={data_root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')
        ]
        command = [
            sys.executable,
            osp.join(ROOT, 'tools', 'train.py'), args.config, '--work-dir',
            work_dir, '--cfg-options', *options
        ]
        print(f'[pretrain_trunk] training {name} (log: {work_dir})',
              flush=True)
        result = subprocess.run(command, cwd=ROOT)
        if result.returncode != 0:
            raise RuntimeError(
                f'pretraining {args.config} failed (exit '
                f'{result.returncode}); its log is in {work_dir}')
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        trunk = extract_trunk(checkpoint, prefixes)
        import torch
        meta = dict(config=args.config, key=osp.basename(out_dir),
                    prefixes=list(prefixes), num_train=args.num_train,
                    num_val=args.num_val, height=args.height,
                    width=args.width, scene_seed=args.scene_seed,
                    seed=args.seed, checkpoint=osp.basename(checkpoint))
        os.makedirs(out_dir, exist_ok=True)
        tmp = out + '.tmp'
        torch.save(dict(state_dict=trunk, meta=meta), tmp)
        logs = sorted(
            osp.join(dp, f) for dp, _, fs in os.walk(work_dir) for f in fs
            if f.endswith('.log') or f == 'scalars.json')
        for log in logs:
            shutil.copy(log, osp.join(out_dir, osp.basename(log)))
        with open(osp.join(out_dir, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=2)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print(f'[pretrain_trunk] wrote {out}', flush=True)
    print(out)
    return out


if __name__ == '__main__':
    main()
