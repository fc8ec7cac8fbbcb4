import os
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import H, W, write_nyud_atrc, write_nyud_mtl
from mmseg.registry import DATASETS

LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations')]


def build(cfg):
    return DATASETS.build(cfg)


def test_nyud_atrc_layout(nyud_root):
    root, refs = nyud_root
    ds = build(dict(type='NYUDv2Dataset', data_root=root, pipeline=LOAD))
    assert len(ds) == 2
    meta = ds.metainfo
    assert len(meta['classes']) == 40 and meta['classes'][23] == 'refridgerator'
    assert len(meta['palette']) == 40
    assert meta['normal_axes'] == ('right', 'up', 'toward_camera')
    assert meta['camera_intrinsics']['fx'] == pytest.approx(518.858)
    assert meta['tasks'] == ['semseg', 'depth', 'normals', 'edge']
    r = ds[0]
    ref = refs['a']
    seg = ref['seg'].astype(int)
    expect = np.where(seg == 0, 255, seg - 1)
    np.testing.assert_array_equal(r['gt_seg_map'], expect)
    np.testing.assert_allclose(r['gt_depth_map'], ref['depth'])
    assert r['gt_depth_map'].dtype == np.float32
    ang = np.degrees(np.arccos(np.clip(
        (r['gt_normal_map'] * ref['normals']).sum(-1), -1, 1)))
    assert ang.max() < 1.0  # png quantization only
    np.testing.assert_allclose(np.linalg.norm(r['gt_normal_map'], axis=-1),
                               1, atol=1e-5)
    np.testing.assert_array_equal(r['gt_edge_map'], ref['edge'] // 255)
    assert set(r['seg_fields']) == {'gt_seg_map', 'gt_depth_map',
                                    'gt_normal_map', 'gt_edge_map'}
    assert r['camera_intrinsics']['width'] == W
    assert r['camera_intrinsics']['fx'] == pytest.approx(518.858 * W / 640)


def test_nyud_mtl_layout_and_task_subset(tmp_path):
    root = str(tmp_path / 'mtl')
    refs = write_nyud_mtl(root)
    ds = build(dict(type='NYUDv2Dataset', data_root=root,
                    tasks=['normals', 'edge'], pipeline=LOAD))
    r = ds[0]
    assert 'gt_seg_map' not in r and 'gt_depth_map' not in r
    np.testing.assert_allclose(r['gt_normal_map'], refs['m1']['normals'],
                               atol=1e-5)
    np.testing.assert_array_equal(r['gt_edge_map'], refs['m1']['edge'])
    assert r['img_path'].endswith('m1.jpg')


def test_nyud_lazy_init(tmp_path):
    ds = build(dict(type='NYUDv2Dataset', data_root=str(tmp_path / 'none'),
                    lazy_init=True))
    with pytest.raises(FileNotFoundError, match='data_root'):
        ds.full_init()


def test_nyud_errors(tmp_path, nyud_root):
    root, _ = nyud_root
    with pytest.raises(FileNotFoundError, match='data_root'):
        build(dict(type='NYUDv2Dataset', data_root=str(tmp_path / 'x')))
    with pytest.raises(FileNotFoundError, match=r'gt_sets/val\.txt'):
        build(dict(type='NYUDv2Dataset', data_root=root, split='val'))
    with pytest.raises(ValueError, match='unknown task'):
        build(dict(type='NYUDv2Dataset', data_root=root, tasks=['sematic']))
    with pytest.raises(ValueError, match='human_parts'):
        build(dict(type='NYUDv2Dataset', data_root=root,
                   tasks=['human_parts']))
    os.remove(osp.join(root, 'depth', 'b.npy'))
    with pytest.raises(FileNotFoundError, match=r"'b'.*depth/b\.npy"):
        build(dict(type='NYUDv2Dataset', data_root=root))


def test_nyud_unreadable_and_size_mismatch(nyud_root):
    root, _ = nyud_root
    with open(osp.join(root, 'images', 'a.png'), 'wb') as f:
        f.write(b'not a png')
    cv2.imwrite(osp.join(root, 'edge', 'b.png'),
                np.zeros((H + 2, W), np.uint8))
    ds = build(dict(type='NYUDv2Dataset', data_root=root, pipeline=LOAD))
    with pytest.raises(Exception, match=r'images/a\.png'):
        ds[0]
    with pytest.raises(ValueError, match=r'edge/b\.png.*size'):
        ds[1]
    with open(osp.join(root, 'segmentation', 'b.png'), 'wb') as f:
        f.write(b'garbage')
    ds = build(dict(type='NYUDv2Dataset', data_root=root, pipeline=LOAD,
                    tasks=['semseg']))
    with pytest.raises(IOError, match=r'segmentation/b\.png'):
        ds[1]


def test_pascal_all_tasks(pascal_root):
    root, refs = pascal_root
    ds = build(dict(type='PascalContextMTDataset', data_root=root,
                    pipeline=LOAD))
    assert len(ds) == 2
    meta = ds.metainfo
    assert len(meta['classes']) == 21
    assert meta['human_parts_classes'][0] == 'background'
    assert len(meta['human_parts_classes']) == 7
    r1, r2 = ds[0], ds[1]
    # semseg: VOC12 for p1, pascal-context fallback for p2
    assert ds.get_data_info(0)['ann_info']['semseg']['path'].endswith(
        osp.join('VOC12', 'p1.png'))
    assert ds.get_data_info(1)['ann_info']['semseg']['path'].endswith(
        osp.join('pascal-context', 'p2.png'))
    np.testing.assert_array_equal(r1['gt_seg_map'], refs['p1']['seg'])
    # human parts
    hp = r1['gt_human_parts']
    assert hp[4, 8] == 1 and hp[10, 8] == 2 and hp[27, 5] == 6
    assert hp[0, 0] == 0 and hp[20, 30] == 0
    assert set(np.unique(hp)) == {0, 1, 2, 6}
    assert (r2['gt_human_parts'] == 255).all()  # person without parts
    # saliency
    sal = r1['gt_saliency_map']
    assert sal[10, 15] == 1 and sal[0, 0] == 0 and sal[25, 35] == 0
    # normals valid on wall (440) and tvmonitor (427), invalid on sky (360)
    n = r1['gt_normal_map']
    np.testing.assert_allclose(n[5, 5], [0, 0, 1], atol=1e-2)
    np.testing.assert_allclose(n[25, 5], [0, 0, 1], atol=1e-2)
    assert (n[:, 20:] == 0).all()
    # edges: thin boundary along the label changes
    e = r1['gt_edge_map']
    assert e.dtype == np.uint8 and set(np.unique(e)) <= {0, 1}
    assert e[5, 19] + e[5, 20] >= 1  # vertical boundary at x=20
    assert e[5, 19] + e[5, 20] <= 1  # thinned to one pixel
    assert e[5, 5] == 0 and e[5, 30] == 0
    # the parts cache was written in the reference's JSON format
    import json
    with open(osp.join(root, 'ImageSets', 'Parts', 'train.txt')) as f:
        cache = json.load(f)
    assert cache == {'p1': [15, 12], 'p2': [-1, 8]}


def test_pascal_edges_for_training_and_for_evaluation(pascal_root):
    """Training reads the reference loaders' thinned Laplacian; test mode
    reads the ground truth of the SEISM benchmark,
    thin(seg2bmap(relabel(LabelMap)))."""
    from mmmtcp.functional.boundary_maps import relabel_regions, seg2bmap
    from mmmtcp.functional.formats import read_pascal_label_map
    from mmmtcp.functional.thinning import thin
    root, refs = pascal_root
    kw = dict(type='PascalContextMTDataset', data_root=root, pipeline=LOAD,
              tasks=['edge'])
    train = build(dict(kw))
    test = build(dict(kw, test_mode=True))
    forced = build(dict(kw, test_mode=True, edge_gt='laplacian'))
    label_map = refs['p1']['label_map']
    np.testing.assert_array_equal(
        read_pascal_label_map(train.get_data_info(0)['ann_info']['edge']
                              ['path']), label_map)
    lap = cv2.Laplacian(label_map.astype(np.float64), cv2.CV_64F)
    np.testing.assert_array_equal(train[0]['gt_edge_map'],
                                  thin(lap != 0).astype(np.uint8))
    protocol = thin(seg2bmap(relabel_regions(label_map))).astype(np.uint8)
    np.testing.assert_array_equal(test[0]['gt_edge_map'], protocol)
    np.testing.assert_array_equal(forced[0]['gt_edge_map'],
                                  train[0]['gt_edge_map'])
    assert not np.array_equal(protocol, train[0]['gt_edge_map'])
    with pytest.raises(ValueError, match='edge_gt'):
        build(dict(kw, edge_gt='canny'))


def test_pascal_parts_only_drops_images_without_person(pascal_root):
    root, _ = pascal_root
    # p2 has a person object (without parts) -> kept as in the reference;
    # remove persons from p2's cache entry to check the filter
    import json
    os.makedirs(osp.join(root, 'ImageSets', 'Parts'), exist_ok=True)
    with open(osp.join(root, 'ImageSets', 'Parts', 'train.txt'), 'w') as f:
        json.dump({'p1': [15], 'p2': [8]}, f)
    ds = build(dict(type='PascalContextMTDataset', data_root=root,
                    tasks=['human_parts'], pipeline=LOAD))
    assert len(ds) == 1
    ds = build(dict(type='PascalContextMTDataset', data_root=root,
                    tasks=['human_parts', 'saliency'], pipeline=LOAD))
    assert len(ds) == 2
    assert (ds[1]['gt_human_parts'] == 255).all()


def test_pascal_errors(pascal_root):
    root, _ = pascal_root
    os.remove(osp.join(root, 'sal_distill', 'p2.png'))
    with pytest.raises(FileNotFoundError, match=r'sal_distill/p2\.png'):
        build(dict(type='PascalContextMTDataset', data_root=root))
    # not needed when saliency is not requested
    ds = build(dict(type='PascalContextMTDataset', data_root=root,
                    tasks=['semseg']))
    assert len(ds) == 2
    with pytest.raises(ValueError, match='depth'):
        build(dict(type='PascalContextMTDataset', data_root=root,
                   tasks=['depth']))
