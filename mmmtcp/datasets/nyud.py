"""NYU Depth v2 for multi-task dense prediction (semseg, depth, normals,
boundaries), in the layout of the ATRC / InvPT release (also used by MT-CP,
"Optimizing Dense Visual Predictions Through Multi-Task Coherence and
Prioritization", WACV 2025) and of the older MTL-PyTorch release."""
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmseg.registry import DATASETS

from mmmtcp.functional.formats import DEFAULT_MAX_DEPTH
from mmmtcp.functional.geometry import NORMAL_AXES, NYUD_INTRINSICS

from .multi_task_base import MultiTaskBaseDataset

NYUD40_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
    'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet',
    'sink', 'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
    'otherprop')


def label_palette(num: int) -> List[List[int]]:
    """The PASCAL VOC bit-interleaved colour map, skipping black."""
    palette = []
    for i in range(1, num + 1):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.append([r, g, b])
    return palette


def _positive(value) -> bool:
    """Whether ``value`` is a finite number > 0."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(value) and value > 0


@DATASETS.register_module()
class NYUDv2Dataset(MultiTaskBaseDataset):
    """NYUD-v2 multi-task data set (795 train / 654 val images, 480x640).

    Layout under ``data_root`` (each map found per sample, so both releases
    and mixtures load)::

        images/<id>.png            (ATRC/InvPT) or images/<id>.jpg (MTL-PyTorch)
        segmentation/<id>.png      0..40, 0 = void (grayscale or palette)
        depth/<id>.npy             float metres, 0 = invalid
        normals/<id>.png           rgb = (n + 1) * 255 / 2   (or <id>.npy)
        edge/<id>.png              0/255                     (or <id>.npy 0/1)
        gt_sets/{train,val}.txt    one id per line

    Conventions, as checked in the loaders of both releases
    (``NYUD_MT._load_semseg`` etc.):

    - semseg: the PNG stores ``0..40`` with ``0`` unlabelled; the loaders
      (``np.array(Image.open(path))``) subtract 1 and ignore ``-1``. Here:
      ``k -> k - 1`` (classes 0..39 in the order of ``METAINFO['classes']``),
      ``0 -> 255``. The file is read as stored values / palette indices
      whatever its PNG mode (grayscale 8 or 16 bit, palette; RGB only with
      identical channels); a value above the number of classes
      (``len(metainfo['classes'])``) is an error naming the file.
    - depth: stored value times ``depth_scale`` is metres (the releases
      store float metres: ``depth_scale=1``); non-positive / non-finite ->
      0. A map whose largest valid depth exceeds ``max_depth`` is an error
      (e.g. ``uint16`` millimetres need ``depth_scale=0.001``).
    - normals: decoded as ``2 * rgb / 255 - 1`` (RGB order; a 16-bit PNG as
      ``2 * rgb / 65535 - 1``) and re-normalized; near-zero vectors are
      invalid. Neither release documents the camera
      frame of its normals and their loaders apply no axis change; mmmtcp
      assumes they are stored in ``normal_axes`` = (right, up,
      toward_camera). If a release turns out to use another frame, set
      ``normal_signs`` (e.g. ``(1, -1, 1)`` for a y-down frame), which
      multiplies the decoded components on load; the generated scenes
      (:func:`mmmtcp.datasets.generate_scenes`) are written in
      ``normal_axes``. :func:`mmmtcp.functional.geometry.normals_from_depth`
      gives normals from a depth map in this frame, to check a release.
    - edge: ``png / 255 >= 0.5`` -> 1 (``.npy``: ``>= 0.5``).

    Args:
        data_root (str): Root of the data set.
        split (str): ``'train'`` or ``'val'``: reads ``gt_sets/<split>.txt``
            unless ``ann_file`` is given.
        tasks (Sequence[str | dict], optional): Subset of ``('semseg',
            'depth', 'normals', 'edge')`` to load, plus tasks declared in
            the config (``dict(name='albedo', kind='regression',
            channels=3)``) whose maps are ``<data_root>/<name>/<id>.npy``
            or ``.png``. Defaults to the four NYUD-v2 tasks.
        normal_signs (Sequence[float], optional): Per-axis sign applied to
            the stored normals. Defaults to None (stored frame is used).
        depth_scale (float): Metres per stored depth unit, applied on load
            (``0.001`` for files storing millimetres). Defaults to 1.0 (the
            files store metres, as both releases do).
        max_depth (float, optional): Largest plausible depth in metres
            (after ``depth_scale``); a depth map with a larger valid value
            raises :class:`~mmmtcp.functional.formats.AnnotationReadError`
            telling which ``depth_scale`` fixes it. Defaults to 100.0: NYUD-v2
            (Kinect) depths are below ~10 m and outdoor LiDAR ranges below
            ~80 m, while a millimetre map exceeds it as soon as one pixel
            is farther than 0.1 m. ``None`` disables the check.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`
            (``pipeline``, ``test_mode``, ``lazy_init``, ``indices``...).
    """

    METAINFO = dict(
        classes=NYUD40_CLASSES,
        palette=label_palette(len(NYUD40_CLASSES)),
        tasks=('semseg', 'depth', 'normals', 'edge'),
        normal_axes=NORMAL_AXES,
        camera_intrinsics=dict(NYUD_INTRINSICS))
    SPLIT_FILE = 'gt_sets/{split}.txt'
    EXTRA_TASKS = True
    #: where each task of ``METAINFO['tasks']`` is stored: its folder and
    #: the reader (:data:`~mmmtcp.functional.formats.ANNOTATION_READERS`)
    #: of each file extension, in order of preference
    LAYOUT = dict(
        semseg=('segmentation', {'.png': 'nyud_seg_png'}),
        depth=('depth', {'.npy': 'depth_npy'}),
        normals=('normals', {'.png': 'normals_png', '.npy': 'normals_npy'}),
        edge=('edge', {'.png': 'edge_png', '.npy': 'edge_npy'}))

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 tasks: Optional[Sequence[str]] = None,
                 normal_signs: Optional[Sequence[float]] = None,
                 depth_scale: float = 1.0,
                 max_depth: Optional[float] = DEFAULT_MAX_DEPTH,
                 **kwargs) -> None:
        if normal_signs is not None and len(normal_signs) != 3:
            raise ValueError('NYUDv2Dataset: `normal_signs` needs 3 values, '
                             f'got {normal_signs}')
        if not _positive(depth_scale):
            raise ValueError(
                'NYUDv2Dataset: `depth_scale` (metres per stored depth unit, '
                'e.g. 0.001 for millimetres) must be a positive number, got '
                f'{depth_scale!r}')
        if max_depth is not None and not _positive(max_depth):
            raise ValueError('NYUDv2Dataset: `max_depth` (metres) must be a '
                             f'positive number or None, got {max_depth!r}')
        self.depth_scale = float(depth_scale)
        self.max_depth = None if max_depth is None else float(max_depth)
        self.normal_signs = (None if normal_signs is None else tuple(
            float(s) for s in normal_signs))
        super().__init__(
            tasks=tasks, split=split, data_root=data_root, **kwargs)

    def _reader_args(self) -> Dict[str, dict]:
        """Arguments of the data set's settings that the reader of each
        stored task takes, besides ``path`` and ``format``."""
        args = dict(
            semseg=dict(num_classes=len(self._metainfo['classes'])),
            depth=dict(depth_scale=self.depth_scale,
                       max_depth=self.max_depth))
        if self.normal_signs is not None:
            args['normals'] = dict(normal_signs=self.normal_signs)
        return args

    def load_data_list(self) -> List[dict]:
        """Index the split, checking every requested file exists."""
        root = self._check_root()
        ids = self._read_split()
        folders = ['images'] + [f for f, _ in self.LAYOUT.values()]
        dirs = {k: osp.join(root, k) for k in folders}
        files = {k: self._listdir(d) for k, d in dirs.items()}
        reader_args = self._reader_args()
        data_list = []
        for sample_id in ids:
            img_path = self._find(dirs['images'], files['images'], sample_id,
                                  ('.png', '.jpg'), 'image')
            ann_info = {}
            for task in self.tasks:
                if task not in self.LAYOUT:
                    ann_info[task] = self._extra_task_info(
                        task, sample_id, files)
                    continue
                folder, formats = self.LAYOUT[task]
                path = self._find(dirs[folder], files[folder], sample_id,
                                  tuple(formats), f'{task} ({folder}/)')
                fmt = formats[osp.splitext(path)[1]]
                ann_info[task] = dict(path=path, format=fmt,
                                      **reader_args.get(task, {}))
            data_info = self._base_info(sample_id, img_path, ann_info)
            data_info['camera_intrinsics'] = dict(
                self._metainfo['camera_intrinsics'])
            data_list.append(data_info)
        return data_list
