import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from mmmtcp.datasets import generate_scenes, normals_from_depth
from mmmtcp.datasets.synthetic import render_scene
from mmmtcp.functional.geometry import backproject

LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations')]


def test_determinism_and_loading(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    ids = generate_scenes(a, 3, 2, height=48, width=64, seed=5)
    generate_scenes(b, 3, 2, height=48, width=64, seed=5)
    assert ids['train'] == ['train_00000', 'train_00001', 'train_00002']
    for sub in ('images', 'segmentation', 'normals', 'edge'):
        for f in sorted(os.listdir(osp.join(a, sub))):
            x = cv2.imread(osp.join(a, sub, f), cv2.IMREAD_UNCHANGED)
            y = cv2.imread(osp.join(b, sub, f), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(
        np.load(osp.join(a, 'depth', 'val_00001.npy')),
        np.load(osp.join(b, 'depth', 'val_00001.npy')))
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=a, split='val',
                             pipeline=LOAD))
    r = ds[1]
    assert r['img'].shape == (48, 64, 3)
    seg = r['gt_seg_map']
    assert (seg < 40).all()  # every pixel hits a labelled surface
    assert {0, 1} <= set(np.unique(seg))  # wall and floor
    assert (r['gt_depth_map'] > 0).all()
    # a different seed gives different scenes
    c = str(tmp_path / 'c')
    generate_scenes(c, 1, 0, height=48, width=64, seed=6)
    assert not np.array_equal(
        np.load(osp.join(a, 'depth', 'train_00000.npy')),
        np.load(osp.join(c, 'depth', 'train_00000.npy')))


def test_geometric_consistency():
    for seed in range(3):
        s = render_scene(np.random.default_rng(seed), 96, 128)
        k = s['intrinsics']
        assert (k['width'], k['height']) == (128, 96)
        cam = (k['fx'], k['fy'], k['cx'], k['cy'])
        n_depth, _ = normals_from_depth(s['depth'], *cam)
        n = s['normals']
        # planar regions: away from boundaries and from normal creases
        crease = np.zeros(n.shape[:2], bool)
        crease[:, 1:] |= np.abs(np.diff(n, axis=1)).sum(-1) > 1e-3
        crease[1:] |= np.abs(np.diff(n, axis=0)).sum(-1) > 1e-3
        bad = cv2.dilate((crease | (s['edge'] > 0)).astype(np.uint8),
                         np.ones((5, 5), np.uint8)) > 0
        m = ~bad & (np.abs(n_depth).sum(-1) > 0)
        assert m.mean() > 0.5
        cos = np.clip((n_depth * n).sum(-1)[m], -1, 1)
        ang = np.degrees(np.arccos(cos))
        assert np.percentile(ang, 99) < 3.0, seed
        # normals face the camera and floors point up
        rays = backproject(s['depth'], *cam)
        assert ((n * rays).sum(-1) < 0).all()
        floor = s['label'] == 1
        if floor.any():
            assert np.median(n[floor][:, 1]) > 0.7
        # edges lie on label changes
        lab = s['label'].astype(int)
        change = np.zeros_like(floor)
        change[:, 1:] |= np.diff(lab, axis=1) != 0
        change[1:] |= np.diff(lab, axis=0) != 0
        assert (s['edge'][change] == 1).all()


def test_atomic_writes(tmp_path, monkeypatch):
    out = str(tmp_path / 'scenes')
    generate_scenes(out, 1, 1, height=16, width=24)
    with pytest.raises(FileExistsError):
        generate_scenes(out, 1, 1, height=16, width=24)

    import mmmtcp.datasets.synthetic as syn
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError('boom')
        return render_scene(*args, **kwargs)

    monkeypatch.setattr(syn, 'render_scene', failing)
    before = sorted(os.listdir(out))
    with pytest.raises(RuntimeError):
        generate_scenes(out, 2, 1, height=16, width=24, overwrite=True)
    # the old data set is untouched and no temporary folder is left
    assert sorted(os.listdir(out)) == before
    assert sorted(os.listdir(tmp_path)) == ['scenes']
    new = str(tmp_path / 'new')
    with pytest.raises(RuntimeError):
        calls.clear()
        generate_scenes(new, 2, 1, height=16, width=24)
    assert not osp.exists(new)
