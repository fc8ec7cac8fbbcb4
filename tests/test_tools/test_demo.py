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
    out = demo.main([
        '--work-dir',
        str(work_dir), '--data-root',
        str(tmp_path / 'scenes'), '--num-train', '4', '--num-val', '2',
        '--iters', '2', '--batch-size', '2', '--seeds', '0', '1',
        '--jobs', '2'
    ])
    text = capsys.readouterr().out
    assert set(out['summary']) == {'baseline', 'MT-CP-no-LPS', 'MT-CP'}
    data = json.loads((work_dir / 'results.json').read_text())
    for name, runs in data['runs'].items():
        assert set(runs) == {'0', '1'}
        for run in runs.values():
            # after 2 iterations a measure may be undefined (NaN), but every
            # one is reported
            for key in ('semseg.mIoU', 'depth.rmse', 'normals.mean',
                        'edge.odsF', 'coherence.normal_depth_angle',
                        'coherence.edge_seg_F', 'train_time'):
                assert key in run, (name, key)
        assert out['summary'][name]['train_time']['n'] == 2
    assert out['paired_delta_m']['MT-CP']['n'] == 2
    assert 'delta_m (%) ↑ vs baseline' in text
    assert 'MT-CP: delta_m' in text and 'MT-CP vs baseline: delta_m' in text
    assert 'normals vs depth (deg)' in text and 'ground truth' in text
    assert 'MT-CP seed 1: train    2/2' in text
    assert set(data['runs']) == set(out['summary'])
    assert (work_dir / 'results.md').read_text().startswith('Seeds [0, 1]')
    assert (work_dir / 'results.png').is_file()


def test_ablation_study_definition():
    """``tools/demo.py --ablation``: the demo's three methods plus one part
    added or changed at a time, among them the affinity over all positions
    (the demo pools the sending positions by 2), all on the demo's
    settings."""
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
    assert {'baseline', 'MT-CP-no-LPS', 'MT-CP'} <= set(methods)
    assert methods['MT-CP-no-LPS-full-affinity'] == [
        'configs/mtcp/mtcp_demo_synthetic_no-lps.py',
        'model.decode_head.cfm.attn_downsample=1'
    ]
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic_no-lps.py'))
    assert cfg.model.decode_head.cfm.attn_downsample == 2
    assert 'train_cfg.max_iters=140' in argv
