"""Procedurally generated indoor scenes in the NYUD-v2 (ATRC/InvPT) layout.

Each scene is a room (floor, ceiling, four walls) with box-shaped
furniture, windows, doors and pictures, seen by a pinhole camera with the
NYUD-v2 colour-camera intrinsics scaled to the output resolution. All maps
come from the same ray-cast geometry, so they are mutually consistent:
depth is the z-depth of the first hit, normals are the hit surface's normal
in the ``normal_axes`` frame (right, up, toward_camera), labels are the hit
object's NYUD-40 class, boundaries are label and depth discontinuities, and
the image is the surface colour shaded by a point light plus texture and
sensor noise. :class:`NYUDv2Dataset` reads the result unchanged.
"""
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Tuple

import cv2
import numpy as np

from mmmtcp.functional.geometry import NYUD_INTRINSICS, scale_intrinsics
from .nyud import NYUD40_CLASSES

CLS = {name: i for i, name in enumerate(NYUD40_CLASSES)}

# class -> (size ranges (w, h, d) in metres, base colour RGB)
FURNITURE = {
    'bed': (((1.4, 2.0), (0.4, 0.6), (1.9, 2.2)), (170, 60, 60)),
    'table': (((0.8, 1.6), (0.7, 0.8), (0.6, 1.0)), (140, 90, 40)),
    'cabinet': (((0.5, 1.2), (0.8, 2.0), (0.4, 0.6)), (200, 180, 150)),
    'chair': (((0.4, 0.5), (0.8, 1.0), (0.4, 0.5)), (60, 90, 160)),
    'sofa': (((1.6, 2.2), (0.7, 0.9), (0.8, 1.0)), (80, 140, 80)),
    'desk': (((1.0, 1.6), (0.7, 0.8), (0.5, 0.8)), (110, 70, 30)),
    'bookshelf': (((0.6, 1.2), (1.5, 2.1), (0.3, 0.4)), (150, 110, 70)),
    'dresser': (((0.8, 1.4), (0.8, 1.1), (0.4, 0.6)), (190, 150, 100)),
    'night stand': (((0.4, 0.6), (0.5, 0.7), (0.4, 0.5)), (120, 80, 50)),
    'box': (((0.3, 0.6), (0.2, 0.5), (0.3, 0.6)), (190, 160, 110)),
}
WALL_ITEMS = {
    'window': (((0.8, 1.6), (0.8, 1.4)), (180, 210, 235), 1.0),
    'door': (((0.8, 1.0), (2.0, 2.1)), (120, 80, 50), 0.0),
    'picture': (((0.4, 1.0), (0.3, 0.8)), (200, 120, 60), 1.3),
}
ROOM_COLOURS = dict(wall=(205, 200, 185), floor=(150, 120, 90),
                    ceiling=(235, 235, 230))


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _slab(o: np.ndarray, inv: Tuple[np.ndarray, ...], bmin: np.ndarray,
          bmax: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray / axis-aligned box entry (slab method).

    Args:
        o: Ray origin (3,).
        inv: Per-axis inverse ray directions, three contiguous (N,) arrays.

    Returns:
        ``t`` of the entry point (inf if missed), the axis of the entry
        face and the sign of its outward normal.
    """
    tlo, thi = [], []
    with np.errstate(invalid='ignore'):
        for a in range(3):
            t1 = (bmin[a] - o[a]) * inv[a]
            t2 = (bmax[a] - o[a]) * inv[a]
            tlo.append(np.nan_to_num(np.minimum(t1, t2), nan=-np.inf))
            thi.append(np.nan_to_num(np.maximum(t1, t2), nan=np.inf))
    tmin = np.maximum(np.maximum(tlo[0], tlo[1]), tlo[2])
    tmax = np.minimum(np.minimum(thi[0], thi[1]), thi[2])
    hit = (tmax >= tmin) & (tmin > 1e-6)
    axis = np.where(tlo[0] == tmin, 0, np.where(tlo[1] == tmin, 1, 2))
    inv_a = np.choose(axis, inv)
    sign = -np.sign(inv_a)
    return np.where(hit, tmin, np.inf), axis, sign


def _sample_scene(rng: np.random.Generator) -> Dict:
    """Random room, camera pose, furniture and wall items (room frame:
    x right, y up, z toward the camera's initial viewing opposite)."""
    cam_h = rng.uniform(1.1, 1.6)
    room = dict(
        xmin=-rng.uniform(1.5, 3.0), xmax=rng.uniform(1.5, 3.0),
        ymin=-cam_h, ymax=rng.uniform(2.5, 3.0) - cam_h,
        zmin=-rng.uniform(4.0, 7.0), zmax=rng.uniform(0.5, 1.5))
    boxes = []
    names = list(FURNITURE)
    for _ in range(rng.integers(3, 8)):
        name = names[rng.integers(len(names))]
        (wr, hr, dr), colour = FURNITURE[name]
        w, h, dep = rng.uniform(*wr), rng.uniform(*hr), rng.uniform(*dr)
        if rng.random() < 0.5:
            w, dep = dep, w
        x = rng.uniform(room['xmin'] + w / 2, room['xmax'] - w / 2)
        z = rng.uniform(room['zmin'] + dep / 2, min(-1.5, room['zmax']))
        y0 = room['ymin']
        boxes.append(dict(
            bmin=np.array([x - w / 2, y0, z - dep / 2]),
            bmax=np.array([x + w / 2, y0 + h, z + dep / 2]),
            label=CLS[name], colour=colour, texture=rng.integers(3)))
    # flat items on the back and side walls
    for _ in range(rng.integers(1, 4)):
        name = list(WALL_ITEMS)[rng.integers(len(WALL_ITEMS))]
        (wr, hr), colour, base = WALL_ITEMS[name]
        w, h = rng.uniform(*wr), rng.uniform(*hr)
        y0 = room['ymin'] + (base if name != 'picture' else rng.uniform(
            1.1, 1.6))
        wall = rng.integers(3)
        t = 0.04
        if wall == 0:  # back wall
            x = rng.uniform(room['xmin'] + w / 2, room['xmax'] - w / 2)
            bmin = [x - w / 2, y0, room['zmin']]
            bmax = [x + w / 2, y0 + h, room['zmin'] + t]
        else:
            side = room['xmin'] if wall == 1 else room['xmax'] - t
            z = rng.uniform(room['zmin'] + w / 2 + 0.1, -1.0 - w / 2)
            bmin = [side, y0, z - w / 2]
            bmax = [side + t, y0 + h, z + w / 2]
        boxes.append(dict(bmin=np.array(bmin), bmax=np.array(bmax),
                          label=CLS[name], colour=colour, texture=0))
    rot = _rot_y(rng.uniform(-0.45, 0.45)) @ _rot_x(rng.uniform(-0.25, 0.1))
    light = np.array([rng.uniform(room['xmin'], room['xmax']) * 0.5,
                      room['ymax'] - 0.2,
                      rng.uniform(room['zmin'] * 0.7, -1.0)])
    return dict(room=room, boxes=boxes, rot=rot, light=light)


def render_scene(rng: np.random.Generator, height: int,
                 width: int) -> Dict[str, np.ndarray]:
    """Render one random scene.

    Returns:
        dict: ``img`` (HxWx3 uint8 RGB), ``label`` (HxW uint8 NYUD-40 class
        ids 0..39), ``depth`` (HxW float32 metres), ``normals`` (HxWx3
        float32 unit, normal_axes frame), ``edge`` (HxW uint8 0/1),
        ``albedo`` (HxWx3 float32 in [0, 1]: the surface colour times its
        texture, without lighting and noise) and ``intrinsics``.
    """
    k = scale_intrinsics(NYUD_INTRINSICS, width, height)
    scene = _sample_scene(rng)
    rot = scene['rot']  # camera -> room
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    d_cam = np.stack([(u - k['cx']) / k['fx'], -(v - k['cy']) / k['fy'],
                      -np.ones_like(u)], axis=-1).reshape(-1, 3)
    d = d_cam @ rot.T
    o = np.zeros(3)
    n_rays = len(d)
    idx = np.arange(n_rays)

    # room interior: exit distance through the six planes
    room = scene['room']
    bmin = np.array([room['xmin'], room['ymin'], room['zmin']])
    bmax = np.array([room['xmax'], room['ymax'], room['zmax']])
    with np.errstate(divide='ignore', invalid='ignore'):
        t1 = (bmin - o) / d
        t2 = (bmax - o) / d
    thi = np.nan_to_num(np.maximum(t1, t2), nan=np.inf)
    axis = thi.argmin(axis=1)
    t_best = thi[idx, axis]
    normal = np.zeros((n_rays, 3))
    normal[idx, axis] = -np.sign(d[idx, axis])  # inward-facing
    label = np.full(n_rays, CLS['wall'], dtype=np.int64)
    label[(axis == 1) & (d[:, 1] < 0)] = CLS['floor']
    label[(axis == 1) & (d[:, 1] > 0)] = CLS['ceiling']
    colour = np.array(ROOM_COLOURS['wall'], dtype=np.float64)[None].repeat(
        n_rays, 0)
    colour[label == CLS['floor']] = ROOM_COLOURS['floor']
    colour[label == CLS['ceiling']] = ROOM_COLOURS['ceiling']
    texture = np.where(label == CLS['floor'], 1, 0)

    with np.errstate(divide='ignore'):
        inv = tuple(np.ascontiguousarray(1.0 / d[:, a]) for a in range(3))
    for box in scene['boxes']:
        t, ax, sign = _slab(o, inv, box['bmin'], box['bmax'])
        closer = t < t_best
        if not closer.any():
            continue
        t_best = np.where(closer, t, t_best)
        nb = np.zeros((n_rays, 3))
        nb[idx, ax] = sign
        normal[closer] = nb[closer]
        label[closer] = box['label']
        jitter = rng.uniform(0.8, 1.2, size=3)
        colour[closer] = np.clip(np.array(box['colour']) * jitter, 0, 255)
        texture[closer] = box['texture']

    pts = o + d * t_best[:, None]
    # camera frame: depth is -z (the ray's camera z is -1 per unit t)
    depth = t_best.reshape(height, width).astype(np.float32)
    n_cam = normal @ rot  # room -> camera (rot is orthonormal)
    n_cam /= np.linalg.norm(n_cam, axis=1, keepdims=True)

    # shading: ambient + Lambert from a point light, texture, noise
    to_light = scene['light'] - pts
    dist = np.linalg.norm(to_light, axis=1, keepdims=True)
    lambert = np.clip((normal * to_light / dist).sum(1), 0, 1)
    shade = 0.35 + 0.75 * lambert / (1 + 0.05 * dist[:, 0]**2)
    tex = np.ones(n_rays)
    stripes = 0.88 + 0.12 * np.sin(pts[:, 0] * 25 + pts[:, 2] * 3)
    checker = 0.9 + 0.1 * ((np.floor(pts[:, 0] * 4) + np.floor(
        pts[:, 1] * 4) + np.floor(pts[:, 2] * 4)) % 2)
    tex = np.where(texture == 1, stripes, tex)
    tex = np.where(texture == 2, checker, tex)
    albedo = (colour * tex[:, None] / 255.0).reshape(height, width, 3)
    rgb = colour * (shade * tex)[:, None]
    rgb = rgb.reshape(height, width, 3)
    rgb += rng.normal(0, 3.0, size=rgb.shape)
    img = np.clip(np.round(rgb), 0, 255).astype(np.uint8)

    label = label.reshape(height, width).astype(np.uint8)
    edge = np.zeros((height, width), dtype=bool)
    rel = np.abs(np.diff(depth, axis=1)) / np.minimum(depth[:, 1:],
                                                       depth[:, :-1])
    jump_x = (np.diff(label.astype(np.int16), axis=1) != 0) | (rel > 0.05)
    rel = np.abs(np.diff(depth, axis=0)) / np.minimum(depth[1:], depth[:-1])
    jump_y = (np.diff(label.astype(np.int16), axis=0) != 0) | (rel > 0.05)
    edge[:, 1:] |= jump_x
    edge[1:] |= jump_y
    return dict(img=img, label=label, depth=depth,
                normals=n_cam.reshape(height, width, 3).astype(np.float32),
                edge=edge.astype(np.uint8),
                albedo=np.clip(albedo, 0, 1).astype(np.float32),
                intrinsics=k)


def _write_sample(root: str, sample_id: str, s: Dict[str, np.ndarray],
                  albedo: bool = False):
    def imwrite(path: str, img: np.ndarray) -> None:
        if not cv2.imwrite(path, img):
            raise IOError(f'Could not write {path}')

    imwrite(osp.join(root, 'images', sample_id + '.png'), s['img'][..., ::-1])
    # the release's encoding: 0 = void, class k stored as k + 1
    imwrite(osp.join(root, 'segmentation', sample_id + '.png'),
            (s['label'] + 1).astype(np.uint8))
    np.save(osp.join(root, 'depth', sample_id + '.npy'), s['depth'])
    enc = np.clip(np.round((s['normals'] + 1) * 255 / 2), 0, 255)
    imwrite(osp.join(root, 'normals', sample_id + '.png'),
            enc.astype(np.uint8)[..., ::-1])
    imwrite(osp.join(root, 'edge', sample_id + '.png'),
            (s['edge'] * 255).astype(np.uint8))
    if albedo:
        rgb = np.round(s['albedo'] * 255).astype(np.uint8)
        imwrite(osp.join(root, 'albedo', sample_id + '.png'), rgb[..., ::-1])


def generate_scenes(out_dir: str,
                    num_train: int,
                    num_val: int,
                    height: int = 240,
                    width: int = 320,
                    seed: int = 0,
                    overwrite: bool = False,
                    albedo: bool = False) -> Dict[str, List[str]]:
    """Write a synthetic multi-task data set in the NYUD-v2 ATRC layout.

    The data set is built in a temporary sibling folder and moved into
    place only when complete, so ``out_dir`` never holds a partial data
    set. Scenes are a deterministic function of ``(seed, split, index)``.

    Args:
        out_dir (str): Destination (``data_root`` of ``NYUDv2Dataset``).
        num_train (int): Number of training scenes.
        num_val (int): Number of validation scenes.
        height (int): Image height. Defaults to 240.
        width (int): Image width. Defaults to 320.
        seed (int): Random seed. Defaults to 0.
        overwrite (bool): Replace an existing ``out_dir``. Defaults to
            False (an existing folder is an error).
        albedo (bool): Also write ``albedo/<id>.png`` (RGB reflectance, the
            ground truth of the task added in ``docs/en/add_a_task.md``).
            The other maps are the same either way. Defaults to False.

    Returns:
        dict: The sample ids of ``'train'`` and ``'val'``.
    """
    if num_train < 0 or num_val < 0 or num_train + num_val == 0:
        raise ValueError('generate_scenes needs num_train, num_val >= 0 and '
                         f'at least one scene, got {num_train}, {num_val}')
    if height < 8 or width < 8:
        raise ValueError(f'Image size {height}x{width} is too small')
    out_dir = osp.abspath(out_dir)
    if osp.exists(out_dir) and not overwrite:
        raise FileExistsError(f'{out_dir} exists; pass overwrite=True '
                              '(--overwrite) to replace it')
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=osp.basename(out_dir) + '.tmp-', dir=parent)
    try:
        for sub in ('images', 'segmentation', 'depth', 'normals', 'edge',
                    'gt_sets') + (('albedo', ) if albedo else ()):
            os.makedirs(osp.join(tmp, sub))
        ids: Dict[str, List[str]] = dict(train=[], val=[])
        for split, num, code in (('train', num_train, 0), ('val', num_val,
                                                            1)):
            for i in range(num):
                sample_id = f'{split}_{i:05d}'
                rng = np.random.default_rng([seed, code, i])
                _write_sample(tmp, sample_id,
                              render_scene(rng, height, width), albedo)
                ids[split].append(sample_id)
            with open(osp.join(tmp, 'gt_sets', split + '.txt'), 'w') as f:
                f.write(''.join(i + '\n' for i in ids[split]))
        if osp.exists(out_dir):
            old = tempfile.mkdtemp(
                prefix=osp.basename(out_dir) + '.old-', dir=parent)
            os.replace(out_dir, osp.join(old, 'data'))
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ids
