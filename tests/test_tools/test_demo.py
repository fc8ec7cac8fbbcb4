"""A short run of the end-to-end demo (the README's main command, with
fewer scenes and iterations)."""
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
    results = demo.main([
        '--work-dir',
        str(work_dir), '--data-root',
        str(tmp_path / 'scenes'), '--num-train', '4', '--num-val', '2',
        '--iters', '2', '--batch-size', '2', '--workers', '0'
    ])
    out = capsys.readouterr().out
    assert set(results) == {'MT-CP', 'baseline'}
    for metrics in results.values():
        for key in ('semseg.mIoU', 'depth.rmse', 'normals.mean', 'edge.odsF',
                    'coherence.normal_depth_angle', 'coherence.edge_seg_F'):
            assert key in metrics
    assert 'delta_m' in results['MT-CP']
    assert 'delta_m vs baseline' in out and 'train    2/2' in out
    with open(work_dir / 'results.json') as f:
        assert json.load(f).keys() == results.keys()
    assert (work_dir / 'results.md').read_text().startswith('| metric')
    for name in ('MT-CP', 'baseline'):
        pictures = list((work_dir / name / 'pictures').rglob('*.png'))
        assert len(pictures) == 2
        assert list((work_dir / name / 'predictions').rglob('*.npy'))
