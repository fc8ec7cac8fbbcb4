"""Small files in the real NYUD-v2 (ATRC and MTL layouts) and
PASCAL-Context formats, for the tests that read data sets."""
import os
import os.path as osp

import cv2
import numpy as np
import scipy.io as sio

H, W = 32, 40


def write_nyud_atrc(root, ids=('a', 'b'), split='train', seed=0):
    rng = np.random.default_rng(seed)
    for sub in ('images', 'segmentation', 'depth', 'normals', 'edge',
                'gt_sets'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    refs = {}
    for i in ids:
        img = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        seg = rng.integers(0, 41, (H, W)).astype(np.uint8)
        depth = rng.uniform(0.5, 5, (H, W)).astype(np.float32)
        depth[0, :5] = 0
        n = rng.normal(size=(H, W, 3))
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        edge = (rng.random((H, W)) > 0.8).astype(np.uint8) * 255
        cv2.imwrite(osp.join(root, 'images', i + '.png'), img)
        cv2.imwrite(osp.join(root, 'segmentation', i + '.png'), seg)
        np.save(osp.join(root, 'depth', i + '.npy'), depth)
        enc = np.round((n + 1) * 255 / 2).astype(np.uint8)
        cv2.imwrite(osp.join(root, 'normals', i + '.png'), enc[..., ::-1])
        cv2.imwrite(osp.join(root, 'edge', i + '.png'), edge)
        refs[i] = dict(img=img, seg=seg, depth=depth, normals=n, edge=edge)
    with open(osp.join(root, 'gt_sets', split + '.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    return refs


def write_nyud_mtl(root, ids=('m1', ), split='train', seed=1):
    rng = np.random.default_rng(seed)
    for sub in ('images', 'segmentation', 'depth', 'normals', 'edge',
                'gt_sets'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    refs = {}
    for i in ids:
        img = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        seg = rng.integers(0, 41, (H, W)).astype(np.uint8)
        depth = rng.uniform(0.5, 5, (H, W)).astype(np.float32)
        n = rng.normal(size=(H, W, 3)).astype(np.float32)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        edge = (rng.random((H, W)) > 0.8).astype(np.float32)
        cv2.imwrite(osp.join(root, 'images', i + '.jpg'), img)
        cv2.imwrite(osp.join(root, 'segmentation', i + '.png'), seg)
        np.save(osp.join(root, 'depth', i + '.npy'), depth)
        np.save(osp.join(root, 'normals', i + '.npy'), n)
        np.save(osp.join(root, 'edge', i + '.npy'), edge)
        refs[i] = dict(seg=seg, depth=depth, normals=n, edge=edge)
    with open(osp.join(root, 'gt_sets', split + '.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    return refs


def _parts_mat(path, objects):
    """Write a Pascal-Part style ``anno`` struct.

    objects: list of (class_ind, mask, [(part_name, mask), ...])
    """
    obj_dtype = [('class', 'O'), ('class_ind', 'O'), ('mask', 'O'),
                 ('parts', 'O')]
    part_dtype = [('part_name', 'O'), ('mask', 'O')]
    objs = np.zeros((1, len(objects)), dtype=obj_dtype)
    for k, (cls, mask, parts) in enumerate(objects):
        objs[0, k]['class'] = 'person' if cls == 15 else 'other'
        objs[0, k]['class_ind'] = np.array([[cls]], dtype=np.uint8)
        objs[0, k]['mask'] = mask.astype(np.uint8)
        if parts:
            parr = np.zeros((1, len(parts)), dtype=part_dtype)
            for j, (name, pmask) in enumerate(parts):
                parr[0, j]['part_name'] = name
                parr[0, j]['mask'] = pmask.astype(np.uint8)
            objs[0, k]['parts'] = parr
        else:
            objs[0, k]['parts'] = np.zeros((0, 0))
    anno = np.zeros((1, 1), dtype=[('imname', 'O'), ('objects', 'O')])
    anno[0, 0]['imname'] = osp.basename(path)[:-4]
    anno[0, 0]['objects'] = objs
    sio.savemat(path, {'anno': anno})


def write_pascal(root, split='train'):
    """Two images: 'p1' with a person carrying parts, 'p2' without."""
    for sub in ('JPEGImages', 'semseg/VOC12', 'semseg/pascal-context',
                'human_parts', 'sal_distill', 'normals_distill',
                'pascal-context/trainval', 'ImageSets/Context'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    rng = np.random.default_rng(3)
    refs = {}
    for i in ('p1', 'p2'):
        img = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        cv2.imwrite(osp.join(root, 'JPEGImages', i + '.jpg'), img)
        seg = rng.integers(0, 21, (H, W)).astype(np.uint8)
        seg[0, 0] = 255
        folder = 'VOC12' if i == 'p1' else 'pascal-context'
        cv2.imwrite(osp.join(root, 'semseg', folder, i + '.png'), seg)
        sal = np.zeros((H, W), np.uint8)
        sal[8:20, 10:30] = 200
        sal[0, 0] = 120  # 120/255 < 0.5
        cv2.imwrite(osp.join(root, 'sal_distill', i + '.png'), sal)
        n = np.zeros((H, W, 3))
        n[..., 2] = 1.
        enc = np.round((n + 1) * 255 / 2).astype(np.uint8)
        cv2.imwrite(osp.join(root, 'normals_distill', i + '.png'),
                    enc[..., ::-1])
        label_map = np.full((H, W), 440, dtype=np.uint16)  # wall: valid
        label_map[:, 20:] = 360  # sky: not an NYUD class
        label_map[20:, :10] = 427  # tvmonitor: valid
        sio.savemat(
            osp.join(root, 'pascal-context', 'trainval', i + '.mat'),
            {'LabelMap': label_map})
        if i == 'p1':
            pmask = np.zeros((H, W), bool)
            pmask[2:30, 2:18] = True
            head = np.zeros((H, W), bool)
            head[2:8, 5:12] = True
            torso = np.zeros((H, W), bool)
            torso[8:18, 4:16] = True
            lfoot = np.zeros((H, W), bool)
            lfoot[26:30, 4:8] = True
            objects = [(15, pmask, [('head', head), ('torso', torso),
                                    ('lfoot', lfoot)]),
                       (12, np.ones((H, W), bool), [])]
        else:
            objects = [(15, np.ones((H, W), bool), []),
                       (8, np.ones((H, W), bool), [])]
        _parts_mat(osp.join(root, 'human_parts', i + '.mat'), objects)
        refs[i] = dict(seg=seg, label_map=label_map)
    with open(osp.join(root, 'ImageSets', 'Context', split + '.txt'),
              'w') as f:
        f.write('p1\np2\n')
    return refs
