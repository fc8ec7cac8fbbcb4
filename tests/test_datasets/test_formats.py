"""Annotation files in the wrong format or range are read correctly or
rejected with an error naming the file, through the real data sets."""
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from conftest import H, W
from mmmtcp.datasets import NYUD40_CLASSES
from mmmtcp.functional.formats import AnnotationReadError, read_index_png
from mmmtcp.datasets.nyud import label_palette

LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations')]
# the PASCAL VOC colour table of VOC2012's SegmentationClass PNGs
VOC_PALETTE = [[0, 0, 0]] + label_palette(255)
LABEL_MODES = ('P', 'L', 'I;16', 'RGB', 'RGB16')


def write_label_png(path: str, labels: np.ndarray, mode: str) -> None:
    """Write ``labels`` (HxW ints) as a PNG of the given kind."""
    labels = np.asarray(labels)
    if mode == 'P':
        img = Image.frombytes('P', labels.shape[::-1],
                              labels.astype(np.uint8).tobytes())
        img.putpalette([c for rgb in VOC_PALETTE for c in rgb])
        img.save(path)
    elif mode == 'L':
        Image.fromarray(labels.astype(np.uint8)).save(path)
    elif mode == 'I;16':
        Image.fromarray(labels.astype(np.uint16)).save(path)
    elif mode == 'RGB':  # a grayscale map saved as RGB
        Image.fromarray(np.stack([labels.astype(np.uint8)] * 3, -1)).save(
            path)
    elif mode == 'RGB16':  # the same, 16 bits per channel
        assert cv2.imwrite(path, np.stack([labels.astype(np.uint16)] * 3,
                                          -1))
    else:
        raise ValueError(mode)
    with Image.open(path) as img:  # the file really is of that kind
        assert img.mode == {'RGB16': 'RGB'}.get(mode, mode)


def tile(pattern, shape=(H, W)) -> np.ndarray:
    pattern = np.asarray(pattern)
    reps = (-(-shape[0] // pattern.shape[0]), -(-shape[1] // pattern.shape[1]))
    return np.tile(pattern, reps)[:shape[0], :shape[1]]


def build_pascal(root, **kwargs):
    cfg = dict(type='PascalContextMTDataset', data_root=root, pipeline=LOAD,
               parts_cache_file=None)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def build_nyud(root, **kwargs):
    cfg = dict(type='NYUDv2Dataset', data_root=root, pipeline=LOAD)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def pascal_semseg_path(root):
    return osp.join(root, 'semseg', 'VOC12', 'p1.png')


# ---------------------------------------------------------------- labels
def test_pascal_palette_png_reads_indices(pascal_root):
    root, _ = pascal_root
    path = pascal_semseg_path(root)
    seg = tile([[0, 15, 255], [1, 2, 20]])
    write_label_png(path, seg, 'P')
    # cv2 expands the palette to colours; its blue channel is not the label
    blue = cv2.imread(path, cv2.IMREAD_UNCHANGED)[..., 0]
    np.testing.assert_array_equal(blue[:2, :3], [[0, 128, 192], [0, 0, 128]])
    ds = build_pascal(root, tasks=['semseg'])
    gt = ds[0]['gt_seg_map']
    assert gt.dtype == np.uint8
    np.testing.assert_array_equal(gt[:2, :3], [[0, 15, 255], [1, 2, 20]])
    np.testing.assert_array_equal(gt, seg)


@pytest.mark.parametrize('mode', LABEL_MODES)
@pytest.mark.parametrize('bad', [21, 100])
def test_pascal_semseg_range(pascal_root, mode, bad):
    root, _ = pascal_root
    path = pascal_semseg_path(root)
    seg = tile(np.append(np.arange(21), 255).reshape(2, 11))
    write_label_png(path, seg, mode)
    ds = build_pascal(root, tasks=['semseg'])
    assert ds.get_data_info(0)['ann_info']['semseg']['num_classes'] == 21
    np.testing.assert_array_equal(ds[0]['gt_seg_map'], seg)  # 255 is fine
    seg[5, 7] = bad
    write_label_png(path, seg, mode)
    with pytest.raises(AnnotationReadError) as info:
        ds[0]
    msg = str(info.value)
    assert path in msg and f'[{bad}]' in msg
    assert 'num_classes=21' in msg and 'metainfo.classes' in msg


def test_pascal_16bit_label_checked_by_value(pascal_root):
    root, _ = pascal_root
    path = pascal_semseg_path(root)
    seg = tile([[0, 5], [255, 20]])
    seg[3, 3] = 256 + 5  # 5 once truncated to 8 bits
    seg[4, 4] = 256 + 255  # 255 once truncated to 8 bits
    write_label_png(path, seg, 'I;16')
    ds = build_pascal(root, tasks=['semseg'])
    with pytest.raises(AnnotationReadError,
                       match=re.escape(path) + r'.*\[261, 511\]'):
        ds[0]


@pytest.mark.parametrize('what', ['semseg', 'saliency'])
def test_colour_png_with_differing_channels_is_an_error(pascal_root, what):
    root, _ = pascal_root
    if what == 'semseg':
        path = pascal_semseg_path(root)
    else:
        path = osp.join(root, 'sal_distill', 'p1.png')
    # a colour-coded label image (VOC colours), as painted by a viewer
    colours = np.asarray(VOC_PALETTE, np.uint8)
    seg = tile([[0, 15], [1, 2]])
    Image.fromarray(colours[seg]).save(path)
    ds = build_pascal(root, tasks=[what])
    with pytest.raises(AnnotationReadError) as info:
        ds[0]
    msg = str(info.value)
    assert path in msg and 'grayscale' in msg and 'palette' in msg


@pytest.mark.parametrize('mode', LABEL_MODES)
def test_nyud_label_modes_and_range(nyud_root, mode):
    root, _ = nyud_root
    path = osp.join(root, 'segmentation', 'a.png')
    seg = tile(np.arange(41).reshape(1, 41), (H, W))
    seg[1] = 40 - seg[1]
    write_label_png(path, seg, mode)
    ds = build_nyud(root, tasks=['semseg'])
    assert ds.get_data_info(0)['ann_info']['semseg']['num_classes'] == 40
    expect = np.where(seg == 0, 255, seg - 1)
    np.testing.assert_array_equal(ds[0]['gt_seg_map'], expect)
    seg[2, 3] = 41
    write_label_png(path, seg, mode)
    with pytest.raises(AnnotationReadError) as info:
        ds[0]
    msg = str(info.value)
    assert path in msg and '[41]' in msg and 'metainfo.classes' in msg


def test_nyud_16bit_label_checked_by_value(nyud_root):
    root, _ = nyud_root
    path = osp.join(root, 'segmentation', 'a.png')
    seg = tile([[0, 1], [40, 7]])
    seg[0, 0] = 256 + 3  # 3 once truncated to 8 bits
    assert cv2.imwrite(path, seg.astype(np.uint16))
    ds = build_nyud(root, tasks=['semseg'])
    with pytest.raises(AnnotationReadError,
                       match=re.escape(path) + r'.*\[259\]'):
        ds[0]


def test_nyud_num_classes_from_metainfo(nyud_root):
    """Labels of classes the config left out are an error, not a wrong
    class index (or an IndexError in the loss)."""
    root, _ = nyud_root
    path = osp.join(root, 'segmentation', 'a.png')
    seg = tile([[0, 1], [10, 3]])
    write_label_png(path, seg, 'L')
    ds = build_nyud(root, tasks=['semseg'],
                    metainfo=dict(classes=NYUD40_CLASSES[:10]))
    assert ds.get_data_info(0)['ann_info']['semseg']['num_classes'] == 10
    np.testing.assert_array_equal(ds[0]['gt_seg_map'],
                                  np.where(seg == 0, 255, seg - 1))
    seg[1, 1] = 11
    write_label_png(path, seg, 'L')
    with pytest.raises(AnnotationReadError,
                       match=re.escape(path) + r'.*\[11\].*metainfo\.classes'):
        ds[0]


def test_16bit_saliency_and_edge_by_bit_depth(pascal_root, nyud_root):
    root, _ = pascal_root
    sal = np.zeros((H, W), np.uint16)
    sal[:, 10:20] = 20000  # 0.31 of the 16-bit range: background
    sal[:, 20:] = 50000  # 0.76: foreground
    write_label_png(osp.join(root, 'sal_distill', 'p1.png'), sal, 'I;16')
    r = build_pascal(root, tasks=['saliency'])[0]
    np.testing.assert_array_equal(r['gt_saliency_map'],
                                  (sal > 32767.5).astype(np.uint8))
    nyud, _ = nyud_root
    edge = np.zeros((H, W), np.uint16)
    edge[5] = 65535
    edge[7] = 20000  # below half the 16-bit range: no boundary
    write_label_png(osp.join(nyud, 'edge', 'a.png'), edge, 'I;16')
    r = build_nyud(nyud, tasks=['edge'])[0]
    np.testing.assert_array_equal(r['gt_edge_map'],
                                  (edge > 32767.5).astype(np.uint8))


def test_read_index_png_missing_and_garbage(tmp_path):
    with pytest.raises(AnnotationReadError, match='not found'):
        read_index_png(str(tmp_path / 'none.png'))
    path = str(tmp_path / 'bad.png')
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\nnot really')
    with pytest.raises(AnnotationReadError, match=re.escape(path)):
        read_index_png(path)


# --------------------------------------------------------------- normals
def _unit_normals(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(H, W, 3))
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _write_normals16(path: str, n: np.ndarray) -> None:
    enc = np.round((n + 1) * 65535 / 2).astype(np.uint16)
    assert cv2.imwrite(path, enc[..., ::-1])  # RGB stored, cv2 wants BGR


def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (degrees) between unit vectors, from the chord length
    (accurate for small angles, unlike arccos of the dot product)."""
    chord = np.linalg.norm(a.astype(np.float64) - b, axis=-1)
    return np.degrees(2 * np.arcsin(np.clip(chord / 2, 0, 1)))


def test_nyud_16bit_normals_png(nyud_root):
    root, _ = nyud_root
    n = _unit_normals(7)
    _write_normals16(osp.join(root, 'normals', 'a.png'), n)
    r = build_nyud(root, tasks=['normals'])[0]
    out = r['gt_normal_map']
    assert out.dtype == np.float32
    assert _angles(out, n).max() < 0.01  # 16-bit quantization only
    np.testing.assert_allclose(out, n, atol=1e-4)
    # every octant is represented, as in the encoded normals
    assert len({tuple(s) for s in np.sign(out).reshape(-1, 3)}) == 8


def test_pascal_16bit_normals_png(pascal_root):
    root, _ = pascal_root
    n = _unit_normals(8)
    _write_normals16(osp.join(root, 'normals_distill', 'p1.png'), n)
    out = build_pascal(root, tasks=['normals'])[0]['gt_normal_map']
    valid = np.zeros((H, W), bool)  # wall (440) and tvmonitor (427)
    valid[:, :20] = True
    assert (out[~valid] == 0).all()
    assert _angles(out[valid], n[valid]).max() < 0.01


# ----------------------------------------------------------------- depth
def test_nyud_depth_in_millimetres(nyud_root):
    root, _ = nyud_root
    path = osp.join(root, 'depth', 'a.npy')
    rng = np.random.default_rng(4)
    mm = rng.integers(500, 5001, (H, W)).astype(np.uint16)
    mm[0, :3] = 0  # invalid
    np.save(path, mm)
    ds = build_nyud(root, tasks=['depth'])
    with pytest.raises(AnnotationReadError) as info:
        ds[0]
    msg = str(info.value)
    assert path in msg and str(int(mm.max())) in msg
    assert 'depth_scale=0.001' in msg
    assert 'train_dataloader.dataset.depth_scale' in msg
    assert 'val_dataloader.dataset.depth_scale' in msg

    ds = build_nyud(root, tasks=['depth'], depth_scale=0.001)
    assert ds.get_data_info(0)['ann_info']['depth']['depth_scale'] == 0.001
    depth = ds[0]['gt_depth_map']
    assert depth.dtype == np.float32
    np.testing.assert_allclose(depth, mm.astype(np.float64) * 0.001,
                               rtol=1e-6)
    assert (depth[0, :3] == 0).all() and 0.5 <= depth[depth > 0].min()
    assert depth.max() <= 5.0
    # a float32 millimetre map is caught the same way
    np.save(path, mm.astype(np.float32))
    with pytest.raises(AnnotationReadError, match='depth_scale=0.001'):
        build_nyud(root, tasks=['depth'])[0]


def test_nyud_implausible_depth(nyud_root):
    root, refs = nyud_root
    path = osp.join(root, 'depth', 'a.npy')
    depth = refs['a']['depth'].copy()
    depth[1, 1] = np.nan
    depth[1, 2] = np.inf
    depth[1, 3] = -1.
    np.save(path, depth)
    ds = build_nyud(root, tasks=['depth'])
    out = ds[0]['gt_depth_map']  # non-finite and <= 0 stay invalid
    assert (out[1, 1:4] == 0).all() and (out[0, :5] == 0).all()
    depth[2, 2] = 1e30
    np.save(path, depth)
    with pytest.raises(AnnotationReadError) as info:
        ds[0]
    msg = str(info.value)
    assert path in msg and '1e+30' in msg and 'depth_scale' in msg
    # max_depth raises the limit (None disables it)
    out = build_nyud(root, tasks=['depth'], max_depth=None)[0]['gt_depth_map']
    assert out[2, 2] == np.float32(1e30)


def test_nyud_depth_arguments_are_checked(nyud_root):
    root, _ = nyud_root
    for bad in (0, -1., float('nan'), 'mm'):
        with pytest.raises(ValueError, match='depth_scale'):
            build_nyud(root, depth_scale=bad)
    with pytest.raises(ValueError, match='max_depth'):
        build_nyud(root, max_depth=0)
    ds = build_nyud(root, tasks=['depth'], max_depth=4.0)
    with pytest.raises(AnnotationReadError, match='max_depth=4'):
        ds[0]  # the fixture's depths reach 5 m


def _write_label_map(path, label_map):
    import scipy.io as sio
    sio.savemat(path, {'LabelMap': label_map.astype(np.uint16)})
    return path


def test_pascal_edge_mat_thins_like_the_protocol(tmp_path):
    """``read_pascal_edge_mat`` = bwmorph-style thin(Laplacian != 0), the
    thinning of the protocol's loader (``skimage.morphology.thin``)."""
    from mmmtcp.functional.formats import read_pascal_edge_mat
    from mmmtcp.functional.thinning import thin

    # a vertical label change between columns 4 and 5: the Laplacian marks
    # both columns; the thinning keeps column 4 from row 1 down (Zhang-Suen
    # would stop at row 6)
    lab = np.ones((8, 10))
    lab[:, 5:] = 2
    edge = read_pascal_edge_mat(_write_label_map(str(tmp_path / 'a.mat'),
                                                 lab))
    expected = np.zeros((8, 10), np.uint8)
    expected[1:, 4] = 1
    assert edge.dtype == np.uint8
    np.testing.assert_array_equal(edge, expected)
    # a 2x2 object: its Laplacian ring thins to one pixel (Zhang-Suen: none)
    lab = np.zeros((8, 10))
    lab[3:5, 3:5] = 5
    edge = read_pascal_edge_mat(_write_label_map(str(tmp_path / 'b.mat'),
                                                 lab))
    assert edge.sum() == 1 and edge[4, 3] == 1
    # any label map: exactly thin(Laplacian != 0)
    rng = np.random.default_rng(1)
    lab = cv2.resize(rng.integers(0, 459, (6, 7)).astype(np.uint16), (35, 30),
                     interpolation=cv2.INTER_NEAREST)
    edge = read_pascal_edge_mat(_write_label_map(str(tmp_path / 'c.mat'),
                                                 lab))
    lap = cv2.Laplacian(lab.astype(np.float64), cv2.CV_64F)
    np.testing.assert_array_equal(edge, thin(lap != 0).astype(np.uint8))
    try:
        from skimage.morphology import thin as skimage_thin
    except ImportError:
        return
    np.testing.assert_array_equal(edge, skimage_thin(lap != 0))
