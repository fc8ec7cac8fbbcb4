import copy

import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS, MODELS, TRANSFORMS

import mmmtcp.models.data_preprocessor  # noqa: F401

LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations')]
KEYS = ['gt_seg_map', 'gt_depth_map', 'gt_normal_map', 'gt_edge_map']


def loaded(root):
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                             pipeline=LOAD))
    return ds[0]


def test_flip_all_maps(nyud_root):
    r = loaded(nyud_root[0])
    ref = copy.deepcopy(r)
    out = TRANSFORMS.build(dict(type='MultiTaskRandomFlip', prob=1.))(r)
    assert out['flip'] and out['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(out['img'], ref['img'][:, ::-1])
    for key in ('gt_seg_map', 'gt_depth_map', 'gt_edge_map'):
        np.testing.assert_array_equal(out[key], ref[key][:, ::-1])
    n = ref['gt_normal_map'][:, ::-1].copy()
    n[..., 0] *= -1
    np.testing.assert_allclose(out['gt_normal_map'], n)
    w = ref['img'].shape[1]
    assert out['camera_intrinsics']['cx'] == pytest.approx(
        w - 1 - ref['camera_intrinsics']['cx'])


def test_vertical_flip_negates_y(nyud_root):
    r = loaded(nyud_root[0])
    ref = copy.deepcopy(r)
    out = TRANSFORMS.build(
        dict(type='MultiTaskRandomFlip', prob=1., direction='vertical'))(r)
    n = ref['gt_normal_map'][::-1].copy()
    n[..., 1] *= -1
    np.testing.assert_allclose(out['gt_normal_map'], n)


@pytest.mark.parametrize('mode', ['divide', 'keep'])
def test_resize_depth_normals_labels(nyud_root, mode):
    r = loaded(nyud_root[0])
    ref = copy.deepcopy(r)
    t = TRANSFORMS.build(dict(type='MultiTaskResize', scale_factor=2.0,
                              keep_ratio=True, depth_scale_mode=mode))
    out = t(r)
    h, w = ref['img'].shape[:2]
    assert out['img'].shape[:2] == (2 * h, 2 * w)
    for key in KEYS:
        assert out[key].shape[:2] == (2 * h, 2 * w)
    # labels: nearest, values from the source set
    assert set(np.unique(out['gt_seg_map'])) <= set(
        np.unique(ref['gt_seg_map']))
    assert set(np.unique(out['gt_edge_map'])) <= {0, 1}
    # depth: divided by the scale factor (or kept), invalid stays 0
    d_ref, d = ref['gt_depth_map'], out['gt_depth_map']
    factor = 2.0 if mode == 'divide' else 1.0
    inner = d[10:-10:2, 20:-20:2]
    np.testing.assert_allclose(
        np.median(inner) * factor, np.median(d_ref[5:-5, 10:-10]), rtol=0.1)
    assert d[:, :] .min() >= 0
    assert (d[0, :8] == 0).all()  # the invalid strip (row 0, x<5) stays 0
    assert d.max() <= d_ref.max() / factor + 1e-5
    if mode == 'divide':
        assert out['depth_scale'] == pytest.approx(2.0)
    # normals unit length (or zero)
    norm = np.linalg.norm(out['gt_normal_map'], axis=-1)
    assert np.all((np.abs(norm - 1) < 1e-4) | (norm == 0))
    assert (norm > 0).mean() > 0.95
    assert out['camera_intrinsics']['fx'] == pytest.approx(
        ref['camera_intrinsics']['fx'] * 2)


def test_random_resize_and_crop(nyud_root):
    r = loaded(nyud_root[0])
    out = TRANSFORMS.build(dict(type='MultiTaskRandomResize', scale=(40, 32),
                                ratio_range=(1.5, 2.0), keep_ratio=True))(r)
    h, w = out['img'].shape[:2]
    assert 48 <= h <= 64
    for key in KEYS:
        assert out[key].shape[:2] == (h, w)
    cx = out['camera_intrinsics']['cx']
    ref = copy.deepcopy(out)
    np.random.seed(0)
    crop = TRANSFORMS.build(dict(type='MultiTaskRandomCrop', crop_size=(20,
                                                                        24),
                                 cat_max_ratio=0.75))
    out = crop(out)
    assert out['img'].shape[:2] == (20, 24)
    # find the window and check every map was cut at the same place
    img = ref['img']
    found = [(y, x) for y in range(h - 19) for x in range(w - 23)
             if np.array_equal(img[y:y + 20, x:x + 24], out['img'])]
    y, x = found[0]
    for key in KEYS:
        np.testing.assert_array_equal(out[key],
                                      ref[key][y:y + 20, x:x + 24])
    assert out['camera_intrinsics']['cx'] == pytest.approx(cx - x)
    # works without semseg
    r2 = {k: v for k, v in ref.items() if k != 'gt_seg_map'}
    r2['seg_fields'] = [k for k in ref['seg_fields'] if k != 'gt_seg_map']
    assert crop(r2)['img'].shape[:2] == (20, 24)


def test_pad_fill_values(nyud_root):
    r = loaded(nyud_root[0])
    h, w = r['img'].shape[:2]
    out = TRANSFORMS.build(dict(type='MultiTaskPad', size=(h + 4, w + 6)))(r)
    assert out['pad_shape'] == (h + 4, w + 6)
    assert out['img_shape'] == (h, w)
    assert (out['img'][h:] == 0).all()
    assert (out['gt_seg_map'][h:] == 255).all()
    assert (out['gt_edge_map'][:, w:] == 255).all()
    assert (out['gt_depth_map'][h:] == 0).all()
    assert (out['gt_depth_map'][:, w:] == 0).all()
    assert (out['gt_normal_map'][h:] == 0).all()
    with pytest.raises(ValueError, match='depth'):
        TRANSFORMS.build(dict(type='MultiTaskPad', size=(8, 8),
                              pad_val=dict(depth=255)))


def test_pack_and_preprocessor(nyud_root):
    root, _ = nyud_root
    pipeline = LOAD + [
        dict(type='MultiTaskRandomResize', scale=(40, 32),
             ratio_range=(0.5, 1.0), keep_ratio=True),
        dict(type='MultiTaskRandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackMultiTaskInputs')
    ]
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                             pipeline=pipeline))
    np.random.seed(1)
    items = [ds[0], ds[1]]
    s = items[0]['data_samples']
    for field, dtype, c in (('gt_sem_seg', torch.int64, 1),
                            ('gt_depth_map', torch.float32, 1),
                            ('gt_normal_map', torch.float32, 3),
                            ('gt_edge_map', torch.int64, 1)):
        data = getattr(s, field).data
        assert data.dtype == dtype and data.shape[0] == c
        assert data.shape[-2:] == items[0]['inputs'].shape[-2:]
    for key in ('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
                'camera_intrinsics', 'normal_axes', 'tasks'):
        assert key in s.metainfo, key
    pre = MODELS.build(dict(type='MultiTaskDataPreProcessor',
                            mean=[123.675, 116.28, 103.53],
                            std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                            size_divisor=32))
    shapes = [it['inputs'].shape[-2:] for it in items]
    batch = pre(dict(inputs=[it['inputs'] for it in items],
                     data_samples=[it['data_samples'] for it in items]),
                training=True)
    x = batch['inputs']
    assert x.shape[0] == 2 and x.shape[-2] % 32 == 0 and x.shape[-1] % 32 == 0
    for (h, w), s in zip(shapes, batch['data_samples']):
        assert s.gt_sem_seg.data.shape[-2:] == x.shape[-2:]
        assert (s.gt_sem_seg.data[:, h:] == 255).all()
        assert (s.gt_edge_map.data[..., w:] == 255).all()
        assert (s.gt_depth_map.data[:, h:] == 0).all()
        assert (s.gt_depth_map.data[..., w:] == 0).all()
        assert s.gt_normal_map.data.shape == (3, ) + tuple(x.shape[-2:])
        assert (s.gt_normal_map.data[:, h:] == 0).all()
        assert s.img_shape == (h, w)
        assert s.pad_shape == tuple(x.shape[-2:])
    # test mode without any ground truth
    test_pipeline = [dict(type='LoadImageFromFile'),
                     dict(type='PackMultiTaskInputs')]
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                             pipeline=test_pipeline, test_mode=True))
    item = ds[0]
    assert 'gt_sem_seg' not in item['data_samples']
    out = pre(dict(inputs=[item['inputs']],
                   data_samples=[item['data_samples']]), training=False)
    assert out['inputs'].shape[0] == 1


def _square_results(size=9):
    rng = np.random.RandomState(0)
    normals = rng.randn(size, size, 3).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    normals[0, 0] = 0  # an invalid pixel
    depth = rng.uniform(1, 5, (size, size)).astype(np.float32)
    depth[1, 2] = 0
    return dict(
        img=rng.randint(0, 255, (size, size, 3)).astype(np.uint8),
        gt_seg_map=rng.randint(0, 40, (size, size)).astype(np.uint8),
        gt_edge_map=(rng.rand(size, size) > 0.7).astype(np.uint8),
        gt_depth_map=depth,
        gt_normal_map=normals,
        seg_fields=['gt_seg_map', 'gt_edge_map', 'gt_depth_map',
                    'gt_normal_map'],
        camera_intrinsics=dict(fx=10., fy=10., cx=4., cy=4., width=size,
                               height=size))


def test_scale_rotate_quarter_turn_rotates_maps_and_normals():
    r = _square_results()
    ref = copy.deepcopy(r)
    t = TRANSFORMS.build(dict(type='MultiTaskRandomScaleRotate',
                              scales=[1.0], rotations=[90.0]))
    out = t(r)
    assert out['scale_rotate'] == (1.0, 90.0)
    # counter-clockwise quarter turn of a square about its centre
    np.testing.assert_array_equal(out['img'], np.rot90(ref['img']))
    for key in ('gt_seg_map', 'gt_edge_map'):
        np.testing.assert_array_equal(out[key], np.rot90(ref[key]))
    np.testing.assert_allclose(out['gt_depth_map'],
                               np.rot90(ref['gt_depth_map']), atol=1e-5)
    # a surface facing right now faces up: (x, y) -> (-y, x)
    n = np.rot90(ref['gt_normal_map']).copy()
    expected = np.stack([-n[..., 1], n[..., 0], n[..., 2]], axis=-1)
    expected[expected == 0] = 0
    np.testing.assert_allclose(out['gt_normal_map'], expected, atol=1e-5)
    assert not out['gt_normal_map'][-1, 0].any()  # invalid stays invalid
    intr = out['camera_intrinsics']
    assert (intr['cx'], intr['cy'], intr['fx']) == pytest.approx(
        (4., 4., 10.))


@pytest.mark.parametrize('mode', ['keep', 'divide'])
def test_scale_rotate_zoom_fills_and_depth(mode):
    r = _square_results(size=33)
    ref = copy.deepcopy(r)
    t = TRANSFORMS.build(dict(type='MultiTaskRandomScaleRotate',
                              scales=[2.0], rotations=[0.0],
                              depth_scale_mode=mode))
    out = t(r)
    # zoom by 2 about the centre: the centre pixel stays, pixel (16+2k)
    # of the output reads pixel (16+k) of the input
    np.testing.assert_array_equal(out['gt_seg_map'][16, 18],
                                  ref['gt_seg_map'][16, 17])
    d = ref['gt_depth_map'][16, 17] / (2.0 if mode == 'divide' else 1.0)
    assert out['gt_depth_map'][16, 18] == pytest.approx(d, rel=1e-5)
    assert out.get('depth_scale', 1.0) == (2.0 if mode == 'divide' else 1.0)
    assert out['camera_intrinsics']['fx'] == pytest.approx(20.)
    # shrinking leaves a border: ignored labels, invalid depth and normals
    r = _square_results(size=33)
    out = TRANSFORMS.build(dict(type='MultiTaskRandomScaleRotate',
                                scales=[0.5], rotations=[0.0]))(r)
    assert out['gt_seg_map'][0, 0] == 255 and out['gt_edge_map'][0, 0] == 255
    assert out['gt_depth_map'][0, 0] == 0
    assert not out['gt_normal_map'][0, 0].any()
    norms = np.linalg.norm(out['gt_normal_map'], axis=-1)
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-5)


def test_scale_rotate_sampling_and_errors():
    t = TRANSFORMS.build(dict(type='MultiTaskRandomScaleRotate',
                              scales=(0.75, 1.25), rotations=(-20., 20.)))
    np.random.seed(0)
    for _ in range(20):
        s, a = t(_square_results())['scale_rotate']
        assert 0.75 <= s <= 1.25 and -20 <= a <= 20
    t = TRANSFORMS.build(dict(type='MultiTaskRandomScaleRotate',
                              scales=[1.0, 1.2, 1.5]))
    seen = {t(_square_results())['scale_rotate'][0] for _ in range(40)}
    assert seen == {1.0, 1.2, 1.5}
    for bad in (dict(scales=[0.0]), dict(scales=(2.0, 1.0)),
                dict(rotations=[]), dict(prob=2.0),
                dict(depth_scale_mode='x')):
        with pytest.raises(ValueError, match='MultiTaskRandomScaleRotate'):
            TRANSFORMS.build(dict(type='MultiTaskRandomScaleRotate', **bad))
