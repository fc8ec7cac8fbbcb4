"""A short run of the end-to-end demo (the README's main command, with
fewer scenes, iterations and seeds)."""
import importlib.util
import json
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_demo_end_to_end(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'demo', osp.join(ROOT, 'tools', 'demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    work_dir = tmp_path / 'demo'
    cache = tmp_path / 'trunks'
    pretrain = (
        f'--cache-dir {cache} --num-train 2 --num-val 1 --height 48 '
        '--width 64 --cfg-options train_cfg.max_iters=2 '
        'train_cfg.val_interval=2 param_scheduler.0.end=2 '
        'default_hooks.checkpoint.interval=2 train_dataloader.batch_size=1')
    out = demo.main([
        '--work-dir',
        str(work_dir), '--data-root',
        str(tmp_path / 'scenes'), '--num-train', '4', '--num-val', '2',
        '--iters', '2', '--batch-size', '2', '--seeds', '0', '1',
        '--jobs', '2', '--pretrain-args', pretrain
    ])
    text = capsys.readouterr().out
    assert set(out['summary']) == {'baseline', 'gated-side0'}
    data = json.loads((work_dir / 'results.json').read_text())
    # every run starts from the pretrained trunk, cached under --cache-dir
    trunks = list(cache.glob('seg_resnet_tiny_synthetic-*/trunk.pth'))
    assert len(trunks) == 1
    for name, runs in data['runs'].items():
        assert set(runs) == {'0', '1'}
        for seed in runs:
            run = json.loads(
                (work_dir / name / f'seed{seed}' / 'metrics.json').read_text())
            assert f'load_from={trunks[0]}' in run['definition'][
                'cfg_options']
        for run in runs.values():
            # after 2 iterations a measure may be undefined (NaN), but every
            # one is reported
            for key in ('semseg.mIoU', 'depth.rmse', 'normals.mean',
                        'edge.odsF', 'coherence.normal_depth_angle',
                        'coherence.edge_seg_F', 'train_time'):
                assert key in run, (name, key)
        assert out['summary'][name]['train_time']['n'] == 2
    assert out['paired_delta_m']['gated-side0']['n'] == 2
    assert 'delta_m (%) ↑ vs baseline' in text
    assert 'gated-side0: delta_m' in text
    assert 'gated-side0 vs baseline: delta_m' in text
    assert 'gated-side0: MT-CP without LPS and without side losses' in text
    assert 'normals vs depth (deg)' in text and 'ground truth' in text
    assert 'gated-side0 seed 1: train    2/2' in text
    assert set(data['runs']) == set(out['summary'])
    assert (work_dir / 'results.md').read_text().startswith('Seeds [0, 1]')
    assert (work_dir / 'results.png').is_file()


def test_ablation_study_definition():
    """``tools/demo.py --ablation``: the README's study, one change at a
    time around MT-CP without LPS, and the deep-supervision control, on the
    demo's settings."""
    spec = importlib.util.spec_from_file_location(
        'demo', osp.join(ROOT, 'tools', 'demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    argv = demo.study_argv(demo.parse_args(['--ablation']), 'scenes')
    methods = {}
    i = 0
    while '--method' in argv[i:]:
        i = argv.index('--method', i) + 1
        end = i
        while end < len(argv) and not argv[end].startswith('--'):
            end += 1
        methods[argv[i]] = argv[i + 1:end]
    assert {'baseline', 'gated', 'residual', 'control-side',
            'reference-wiring', 'gated-LPS'} <= set(methods)
    assert methods['control-side'] == [
        'configs/baseline/mt_baseline_demo_synthetic.py',
        'model.decode_head.side_levels=2'
    ]
    assert methods['residual'] == [
        'configs/mtcp/mtcp_demo_synthetic_no-lps.py',
        'model.decode_head.refine=residual'
    ]
    assert 'train_cfg.max_iters=560' in argv
    # from scratch (no trunk) and from a trunk, the options of a study run
    # by hand with the same settings (README)
    assert not any(a.startswith('load_from=') for a in argv)
    argv = demo.study_argv(
        demo.parse_args(['--ablation']),
        osp.join(ROOT, 'data', 'synthetic_scenes_120x160'), '/c/trunk.pth')
    opts = argv[argv.index('--cfg-options') + 1:]
    assert opts[:5] == [
        'load_from=/c/trunk.pth', 'train_cfg.max_iters=560',
        'train_cfg.val_interval=561', 'param_scheduler.0.end=560',
        'default_hooks.checkpoint.interval=560'
    ]
    assert not any('data_root' in o or 'batch_size' in o for o in opts)
