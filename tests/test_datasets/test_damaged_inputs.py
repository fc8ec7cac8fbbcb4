"""Damaged inputs are refused with errors naming the file or argument
(issue #23): truncated, empty or corrupt images and annotation maps,
truncated ``.npy`` files, a binary split file and a negative crop size; an
all-NaN depth map is loaded as before but reported."""
import glob
import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmseg.registry import DATASETS, TRANSFORMS

from conftest import H, W, write_nyud_atrc, write_nyud_mtl, write_pascal
from mmmtcp.datasets import generate_scenes
from mmmtcp.functional.formats import AnnotationReadError
from mmmtcp.functional.image_check import DamagedImageError, check_image_bytes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the maps' readers are tested with mmcv's image loader, on their own
LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations')]
PNG_IEND = b'\x00\x00\x00\x00IEND\xaeB`\x82'


def _image(seed: int = 0, shape=(H, W, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, np.uint8)


def _encode(img: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _cut(path: str, keep: int) -> None:
    """Keep the first ``keep`` bytes of a file (negative: drop the last)."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:keep])


def _damage(path: str, how: str) -> None:
    """Damage a written image file the way interrupted copies do."""
    size = osp.getsize(path)
    if how == 'half':
        _cut(path, size // 2)
    elif how == 'tail':  # the last chunk/marker missing
        _cut(path, -12 if path.endswith('.png') else -2)
    elif how == 'empty':
        _cut(path, 0)
    else:
        raise ValueError(how)


@pytest.fixture
def log_records():
    """Records of mmengine's current logger (it does not propagate to the
    root logger, so caplog would not see them)."""

    class Records(logging.Handler):

        def __init__(self):
            super().__init__(logging.DEBUG)
            self.records = []

        def emit(self, record):
            self.records.append(record)

    logger = MMLogger.get_current_instance()
    handler = Records()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


# ------------------------------------------------------ the byte-level check
@pytest.mark.parametrize('ext', ['.jpg', '.png'])
def test_check_image_bytes_every_truncation(ext):
    data = _encode(_image(), ext)
    fmt = {'.jpg': 'jpeg', '.png': 'png'}[ext]
    assert check_image_bytes(data, 'x' + ext) == fmt
    # cut anywhere (also 1 byte short): an error naming the file
    for keep in sorted({*range(1, len(data), 37), len(data) - 1}):
        with pytest.raises(DamagedImageError, match=r'/data/x\d+' + ext):
            check_image_bytes(data[:keep], f'/data/x{keep}{ext}')
    with pytest.raises(DamagedImageError, match=r'empty file.*0 bytes'):
        check_image_bytes(b'', '/data/empty' + ext)


def test_check_image_bytes_jpeg_padding_thumbnail_and_junk():
    data = _encode(_image(), '.jpg')
    # zero/whitespace padding after EOI, as some encoders write it
    assert check_image_bytes(data + b'\x00' * 7 + b' \r\n', 'p.jpg') == 'jpeg'
    with pytest.raises(DamagedImageError, match=r'j\.jpg.*FFD9'):
        check_image_bytes(data + b'not padding', 'j.jpg')
    # an EXIF-like APP1 segment holding a complete thumbnail JPEG: a file cut
    # right after the thumbnail ends in FFD9 but is refused
    thumb = _encode(_image(1, (8, 8, 3)), '.jpg')
    payload = b'Exif\x00\x00' + thumb
    app1 = b'\xff\xe1' + (len(payload) + 2).to_bytes(2, 'big') + payload
    with_thumb = data[:2] + app1 + data[2:]
    assert check_image_bytes(with_thumb, 't.jpg') == 'jpeg'
    assert cv2.imdecode(np.frombuffer(with_thumb, np.uint8),
                        cv2.IMREAD_COLOR).shape == (H, W, 3)
    cut = with_thumb[:2 + len(app1)]
    assert cut.endswith(b'\xff\xd9')
    with pytest.raises(DamagedImageError, match=r'c\.jpg is a truncated'):
        check_image_bytes(cut, 'c.jpg')


def test_check_image_bytes_png_crc_and_unknown_content():
    data = bytearray(_encode(_image(), '.png'))
    data[60] ^= 0x01  # one bit flipped inside IDAT
    with pytest.raises(DamagedImageError, match=r'b\.png.*IDAT.*CRC'):
        check_image_bytes(bytes(data), 'b.png')
    gif = b'GIF89a' + bytes(30)
    with pytest.raises(DamagedImageError,
                       match=r'g\.gif is neither a JPEG nor a PNG.*47 49 46'):
        check_image_bytes(gif, 'g.gif')


# ------------------------------------------------------- the image transform
@pytest.mark.parametrize('ext', ['.jpg', '.png'])
@pytest.mark.parametrize('how', ['half', 'tail', 'empty'])
def test_checked_image_loader_refuses_damaged_files(tmp_path, ext, how):
    path = str(tmp_path / f'img{ext}')
    assert cv2.imwrite(path, _image())
    load = TRANSFORMS.build(dict(type='LoadCheckedImageFromFile'))
    plain = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    out = load(dict(img_path=path))  # a complete file: as mmcv loads it
    expect = plain(dict(img_path=path))['img']
    np.testing.assert_array_equal(out['img'], expect)
    assert out['img_shape'] == out['ori_shape'] == (H, W)
    _damage(path, how)
    with pytest.raises(ValueError) as info:
        load(dict(img_path=path))
    assert path in str(info.value)
    assert ('empty file' if how == 'empty' else 'truncated') in str(
        info.value)
    # with ignore_empty the sample is skipped, as in mmcv's transform
    skip = TRANSFORMS.build(
        dict(type='LoadCheckedImageFromFile', ignore_empty=True))
    assert skip(dict(img_path=path)) is None


def test_checked_image_loader_names_undecodable_and_missing(tmp_path):
    load = TRANSFORMS.build(dict(type='LoadCheckedImageFromFile'))
    path = str(tmp_path / 'a.bmp')
    assert cv2.imwrite(path, _image())
    with pytest.raises(ValueError, match=r'a\.bmp is neither a JPEG nor'):
        load(dict(img_path=path))
    with pytest.raises(FileNotFoundError, match=r'none\.png'):
        load(dict(img_path=str(tmp_path / 'none.png')))


def _config_dataset(name: str, root: str) -> dict:
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets',
                                   name))
    ds = cfg.val_dataloader.dataset.to_dict()
    ds['data_root'] = root
    return ds


@pytest.mark.parametrize('config,layout', [
    ('nyud_mt.py', 'atrc'),  # images/*.png
    ('synthetic_scenes.py', 'mtl'),  # images/*.jpg
    ('pascal_context_mt.py', 'pascal'),  # JPEGImages/*.jpg
    ('pascal_context_mt_512x512.py', 'pascal'),
])
def test_config_pipelines_refuse_truncated_images(tmp_path, config, layout):
    root = str(tmp_path / 'data')
    if layout == 'atrc':
        write_nyud_atrc(root, split='val')
        path = osp.join(root, 'images', 'a.png')
    elif layout == 'mtl':
        write_nyud_mtl(root, split='val')
        path = osp.join(root, 'images', 'm1.jpg')
    else:
        write_pascal(root, split='val')
        path = osp.join(root, 'JPEGImages', 'p1.jpg')
    ds = DATASETS.build(_config_dataset(config, root))
    assert ds.pipeline.transforms[0].__class__.__name__ == \
        'LoadCheckedImageFromFile'
    assert ds[0]['inputs'].shape[0] == 3
    _damage(path, 'half')
    with pytest.raises(ValueError, match='truncated') as info:
        ds[0]
    assert path in str(info.value)


def test_no_config_loads_unchecked_images():
    """Every pipeline of the repository's configs loads images checked."""
    unchecked = [
        p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                             recursive=True)
        if "type='LoadImageFromFile'" in open(p).read()
    ]
    assert unchecked == []


# ------------------------------------------------------- annotation readers
@pytest.mark.parametrize('how', ['tail', 'half', 'empty'])
@pytest.mark.parametrize('task,rel', [
    ('semseg', 'segmentation/a.png'),
    ('normals', 'normals/a.png'),
    ('edge', 'edge/a.png'),
    (dict(name='albedo', kind='regression', channels=3), 'albedo/a.png'),
])
def test_nyud_png_maps_refuse_damaged_files(nyud_root, task, rel, how):
    root, _ = nyud_root
    path = osp.join(root, rel)
    if not osp.exists(path):  # the regression task's folder
        os.makedirs(osp.dirname(path))
        for sample in ('a', 'b'):
            assert cv2.imwrite(osp.join(osp.dirname(path), sample + '.png'),
                               _image(2))
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                             tasks=[task], pipeline=LOAD))
    ds[0]
    _damage(path, how)
    with pytest.raises(AnnotationReadError) as info:
        ds[0]
    msg = str(info.value)
    assert path in msg
    assert ('empty file' if how == 'empty' else 'truncated') in msg


@pytest.mark.parametrize('how', ['tail', 'half'])
def test_pascal_saliency_and_semseg_refuse_damaged_files(pascal_root, how):
    root, _ = pascal_root
    for task, rel in (('saliency', 'sal_distill/p1.png'),
                      ('semseg', 'semseg/VOC12/p1.png'),
                      ('normals', 'normals_distill/p1.png')):
        path = osp.join(root, rel)
        ds = DATASETS.build(
            dict(type='PascalContextMTDataset', data_root=root,
                 tasks=[task], pipeline=LOAD, parts_cache_file=None))
        ds[0]
        _damage(path, how)
        with pytest.raises(AnnotationReadError,
                           match='truncated PNG') as info:
            ds[0]
        assert path in str(info.value)


@pytest.mark.parametrize('how', ['half', 'empty'])
@pytest.mark.parametrize('task', ['depth', 'normals', 'edge'])
def test_truncated_npy_names_the_file(tmp_path, task, how):
    root = str(tmp_path / 'mtl')
    write_nyud_mtl(root)
    path = osp.join(root, task, 'm1.npy')
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                             tasks=[task], pipeline=LOAD))
    ds[0]
    _damage(path, how)
    with pytest.raises(AnnotationReadError) as info:
        ds[0]
    msg = str(info.value)
    assert path in msg
    assert ('empty (0 bytes)' if how == 'empty' else 'is truncated') in msg
    if how == 'half':
        shape = '(32, 40, 3)' if task == 'normals' else '(32, 40)'
        assert f'float32 array of shape {shape}' in msg


# ------------------------------------------------------------- split files
def _write_bytes(path: str, data: bytes) -> None:
    with open(path, 'wb') as f:
        f.write(data)


def test_binary_split_file_is_named(tmp_path, nyud_root, pascal_root):
    junk = np.random.default_rng(0).bytes(64)
    junk = b'\x93' + junk  # not UTF-8 whatever the random bytes are
    root, _ = nyud_root
    split = osp.join(root, 'gt_sets', 'train.txt')
    _write_bytes(split, junk)
    with pytest.raises(ValueError) as info:
        DATASETS.build(dict(type='NYUDv2Dataset', data_root=root))
    msg = str(info.value)
    assert split in msg and 'text list of sample ids' in msg
    assert 'ann_file' in msg
    # the same file given as `ann_file`, and a UTF-16 list (NUL bytes)
    other = str(tmp_path / 'ids.txt')
    _write_bytes(other, 'a\nb\n'.encode('utf-16'))
    with pytest.raises(ValueError, match='text list of sample ids') as info:
        DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                            ann_file=other))
    assert other in str(info.value)
    # a UTF-8 list with a byte-order mark still reads
    _write_bytes(split, '\ufeffa\nb\n'.encode('utf-8'))
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root))
    assert [ds.get_data_info(i)['sample_id'] for i in range(2)] == ['a', 'b']

    proot, _ = pascal_root
    psplit = osp.join(proot, 'ImageSets', 'Context', 'train.txt')
    _write_bytes(psplit, junk)
    with pytest.raises(ValueError, match='text list of sample ids') as info:
        DATASETS.build(dict(type='PascalContextMTDataset', data_root=proot,
                            parts_cache_file=None))
    assert psplit in str(info.value)


def test_binary_split_file_of_synthetic_scenes(tmp_path):
    root = str(tmp_path / 'scenes')
    generate_scenes(root, 1, 1, height=16, width=16, seed=0)
    split = osp.join(root, 'gt_sets', 'val.txt')
    _write_bytes(split, b'\x89PNG\r\n\x1a\n' + bytes(16))
    cfg = _config_dataset('synthetic_scenes.py', root)
    with pytest.raises(ValueError, match='text list of sample ids') as info:
        DATASETS.build(cfg)
    assert split in str(info.value)


# ------------------------------------------------------------------- depth
def _depth_warnings(records):
    return [
        r.getMessage() for r in records
        if r.levelno == logging.WARNING and 'Depth map' in r.getMessage()
    ]


def test_all_nan_depth_is_loaded_and_reported(nyud_root, log_records):
    root, refs = nyud_root
    path = osp.join(root, 'depth', 'a.npy')
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=root,
                             tasks=['depth'], pipeline=LOAD))
    # some NaNs: invalid (0) as before, no warning
    depth = refs['a']['depth'].copy()
    depth[2:4, 5:9] = np.nan
    np.save(path, depth)
    out = ds[0]['gt_depth_map']
    assert (out[2:4, 5:9] == 0).all() and (out[out > 0] > 0.4).all()
    assert _depth_warnings(log_records) == []
    # all NaN: every pixel invalid, and a warning naming the file
    np.save(path, np.full((H, W), np.nan, np.float32))
    out = ds[0]['gt_depth_map']
    assert out.dtype == np.float32 and out.shape == (H, W)
    assert (out == 0).all()
    warned = _depth_warnings(log_records)
    assert len(warned) == 1 and path in warned[0]
    assert 'no valid pixel' in warned[0] and 'NaN' in warned[0]
    ds[0]  # reported once per file
    assert len(_depth_warnings(log_records)) == 1
    # no positive value either (all zero) in another file
    other = osp.join(root, 'depth', 'b.npy')
    np.save(other, np.zeros((H, W), np.float32))
    assert (ds[1]['gt_depth_map'] == 0).all()
    warned = _depth_warnings(log_records)
    assert len(warned) == 2 and other in warned[1]


# -------------------------------------------------------------------- crop
@pytest.mark.parametrize('bad', [(-1, 64), (64, 0), -5, 0, (32, ), (1.5, 8),
                                 True, (32, 32, 3)])
def test_crop_size_must_be_positive(bad):
    with pytest.raises(ValueError) as info:
        TRANSFORMS.build(dict(type='MultiTaskRandomCrop', crop_size=bad))
    msg = str(info.value)
    assert 'crop_size' in msg and f'crop_size={bad!r}' in msg


def test_crop_size_forms_accepted():
    for size, expect in ((16, (16, 16)), ((8, 12), (8, 12)), ([8, 12],
                                                              (8, 12))):
        crop = TRANSFORMS.build(dict(type='MultiTaskRandomCrop',
                                     crop_size=size))
        assert crop.crop_size == expect
        out = crop(dict(img=_image(), seg_fields=[]))
        assert out['img'].shape[:2] == expect
