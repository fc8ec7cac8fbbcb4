"""PASCAL-Context for multi-task dense prediction (semseg, human parts,
saliency, normals, boundaries) in the layout of the ATRC / InvPT /
MTL-PyTorch release (PASCAL_MT), as used by MT-CP ("Optimizing Dense Visual
Predictions Through Multi-Task Coherence and Prioritization", WACV 2025)."""
import json
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log
from mmseg.registry import DATASETS

from mmmtcp.functional.formats import PERSON_CLASS_IND, person_part_summary
from mmmtcp.functional.geometry import NORMAL_AXES

from .multi_task_base import MultiTaskBaseDataset
from .nyud import label_palette

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat',
               'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
               'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep',
               'sofa', 'train', 'tvmonitor')
HUMAN_PARTS_CLASSES = ('background', 'head', 'torso', 'upper arms',
                       'lower arms', 'upper legs', 'lower legs')


@DATASETS.register_module()
class PascalContextMTDataset(MultiTaskBaseDataset):
    """PASCAL-Context multi-task data set (4,998 train / 5,105 val).

    Layout under ``data_root``::

        JPEGImages/<id>.jpg
        semseg/VOC12/<id>.png | semseg/pascal-context/<id>.png   0..20, 255
                                       (palette or grayscale PNG)
        human_parts/<id>.mat           Pascal-Part ``anno`` struct
        sal_distill/<id>.png           0..255
        normals_distill/<id>.png       rgb = (n + 1) * 255 / 2
        pascal-context/trainval/<id>.mat   ``LabelMap`` (459 classes)
        ImageSets/Context/{train,val}.txt
        ImageSets/Parts/{train,val}.txt    person/part cache (JSON)

    Maps, as the ATRC / InvPT / MTL-PyTorch loaders build them:

    - semseg: ``semseg/VOC12/<id>.png`` when it exists, else
      ``semseg/pascal-context/<id>.png``; values 0..20, 255 ignored. The
      values are read as stored whatever the PNG mode, as the reference's
      ``np.array(Image.open(path))``: the palette *indices* of a palette PNG
      (VOC2012's ``SegmentationClass`` format), the values of a grayscale
      8 or 16 bit PNG; an RGB PNG only when its channels are identical. A
      value ``>= len(metainfo['classes'])`` (21) other than 255 is an error
      naming the file and the value.
    - edge: for training (``edge_gt='laplacian'``), pixels where
      ``cv2.Laplacian(LabelMap) != 0``, thinned to one pixel with the
      reference's thinning (``skimage.morphology.thin``, MATLAB's
      ``bwmorph(.., 'thin', Inf)``), implemented by
      :func:`mmmtcp.functional.thinning.thin`; for evaluation
      (``edge_gt='seg2bmap'``, the default in test mode), the ground truth
      of the SEISM boundary benchmark, ``thin(seg2bmap(LabelMap))``
      (:func:`mmmtcp.functional.boundary_maps.seg2bmap`), so the metric runs
      with ``edge_gt_boundaries=False``.
    - human_parts: for each object of class 15 (person) with parts, the part
      masks painted with the group of their name (head = hair, head, ears,
      eyebrows, eyes, mouth, nose -> 1; neck, torso -> 2; upper arms -> 3;
      lower arms, hands -> 4; upper legs -> 5; lower legs, feet -> 6);
      images without a person with parts are all 255 (ignored). The list of
      object classes per image is cached in ``parts_cache_file`` (the JSON
      format of the reference ``ImageSets/Parts/<split>.txt``); images whose
      entry has no person are not read at load time.
    - saliency: ``sal_distill/<id>.png / 255 > 0.5`` (``/ 65535`` for a
      16-bit PNG).
    - normals: ``2 * normals_distill / 255 - 1`` (``/ 65535`` for a 16-bit
      PNG), valid (else the zero vector) only where the LabelMap class is
      one of the PASCAL-Context classes whose names also occur in NYUD-v2's
      label list, plus
      tvmonitor
      (:data:`mmmtcp.functional.formats.PASCAL_NORMALS_VALID_CLASSES`).
      Stored and returned in ``normal_axes`` (right, up, toward_camera);
      ``normal_signs`` converts another frame.

    Args:
        data_root (str): Root of the data set.
        split (str): ``'train'`` or ``'val'``: reads
            ``ImageSets/Context/<split>.txt`` unless ``ann_file`` is given.
        tasks (Sequence[str], optional): Subset of ``('semseg',
            'human_parts', 'saliency', 'normals', 'edge')``. Defaults to all.
        parts_cache_file (str, optional): Person/part cache, relative to
            ``data_root``; ``'{split}'`` is replaced. Created (atomically)
            when missing or stale and the folder is writable. ``None``
            disables the cache. Defaults to
            ``'ImageSets/Parts/{split}.txt'``.
        drop_images_without_parts (bool, optional): Drop images without a
            person with parts. Defaults to ``None``: drop them only when
            ``human_parts`` is the only task, like the reference loaders.
        normal_signs (Sequence[float], optional): Per-axis sign applied to
            the stored normals. Defaults to None.
        edge_gt (str, optional): ``'laplacian'`` (the training target of the
            reference loaders) or ``'seg2bmap'`` (the ground truth of the
            SEISM evaluation). Defaults to ``'seg2bmap'`` in test mode and
            ``'laplacian'`` otherwise.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO = dict(
        classes=VOC_CLASSES,
        palette=[[0, 0, 0]] + label_palette(len(VOC_CLASSES) - 1),
        tasks=('semseg', 'human_parts', 'saliency', 'normals', 'edge'),
        human_parts_classes=HUMAN_PARTS_CLASSES,
        normal_axes=NORMAL_AXES)
    SPLIT_FILE = 'ImageSets/Context/{split}.txt'
    EXTRA_TASKS = True
    #: where each task of ``METAINFO['tasks']`` is stored: the folders to
    #: look in, in order, the file extension and the reader
    #: (:data:`~mmmtcp.functional.formats.ANNOTATION_READERS`)
    LAYOUT = dict(
        semseg=(('semseg/VOC12', 'semseg/pascal-context'), '.png',
                'label_png'),
        human_parts=(('human_parts', ), '.mat', 'human_parts_mat'),
        saliency=(('sal_distill', ), '.png', 'saliency_png'),
        normals=(('normals_distill', ), '.png', 'pascal_normals_png'),
        edge=(('pascal-context/trainval', ), '.mat', 'pascal_edge_mat'))
    #: the tasks whose reader also reads the image's pascal-context
    #: LabelMap (the normals' valid classes), and the LabelMaps' folder
    LABEL_MAP_TASKS = ('normals', )
    LABEL_MAP_FOLDER = 'pascal-context/trainval'
    #: the task of the person-part labels: images without a person have no
    #: valid label, and a human-parts-only data set drops them
    PARTS_TASK = 'human_parts'

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 tasks: Optional[Sequence[str]] = None,
                 parts_cache_file: Optional[str] = 'ImageSets/Parts/{split}.txt',
                 drop_images_without_parts: Optional[bool] = None,
                 normal_signs: Optional[Sequence[float]] = None,
                 edge_gt: Optional[str] = None,
                 **kwargs) -> None:
        if edge_gt is None:
            edge_gt = 'seg2bmap' if kwargs.get('test_mode') else 'laplacian'
        if edge_gt not in ('laplacian', 'seg2bmap'):
            raise ValueError("PascalContextMTDataset: `edge_gt` must be "
                             f"'laplacian' or 'seg2bmap', got {edge_gt!r}")
        self.edge_gt = edge_gt
        if normal_signs is not None and len(normal_signs) != 3:
            raise ValueError('PascalContextMTDataset: `normal_signs` needs 3 '
                             f'values, got {normal_signs}')
        self.normal_signs = (None if normal_signs is None else tuple(
            float(s) for s in normal_signs))
        self.parts_cache_file = parts_cache_file
        self.drop_images_without_parts = drop_images_without_parts
        super().__init__(
            tasks=tasks, split=split, data_root=data_root, **kwargs)

    # ------------------------------------------------------------------
    def _parts_cache(self, ids: List[str], part_dir: str) -> Dict[str, list]:
        """Object classes per image, from the cache file or the .mat files."""
        cache_path = None
        if self.parts_cache_file:
            cache_path = osp.join(self.data_root,
                                  self.parts_cache_file.format(
                                      split=self.split))
            if osp.isfile(cache_path):
                try:
                    with open(cache_path) as f:
                        cache = json.load(f)
                except (OSError, ValueError) as e:
                    print_log(f'Ignoring unreadable parts cache {cache_path}:'
                              f' {e}', logger='current')
                    cache = {}
                if all(i in cache for i in ids):
                    return cache
        cache = {}
        for sample_id in ids:
            cache[sample_id] = person_part_summary(
                osp.join(part_dir, sample_id + '.mat'))
        if cache_path is not None:
            try:
                os.makedirs(osp.dirname(cache_path), exist_ok=True)
                fd, tmp = tempfile.mkstemp(
                    dir=osp.dirname(cache_path), suffix='.tmp')
                with os.fdopen(fd, 'w') as f:
                    json.dump(cache, f)
                os.replace(tmp, cache_path)
            except OSError as e:
                print_log(f'Could not write parts cache {cache_path}: {e}',
                          logger='current')
        return cache

    def _reader_args(self, label_map: Optional[str]) -> Dict[str, dict]:
        """Arguments of the data set's settings (and of the image's
        pascal-context LabelMap) that the reader of each stored task takes,
        besides ``path`` and ``format``."""
        normals = dict(label_map_path=label_map)
        if self.normal_signs is not None:
            normals['normal_signs'] = self.normal_signs
        return dict(
            semseg=dict(num_classes=len(self._metainfo['classes'])),
            normals=normals,
            edge=dict(boundaries=self.edge_gt))

    def load_data_list(self) -> List[dict]:
        """Index the split, checking every requested file exists."""
        root = self._check_root()
        ids = self._read_split()
        stored = [t for t in self.tasks if t in self.LAYOUT]
        need = {'JPEGImages'}
        for task in stored:
            need.update(self.LAYOUT[task][0])
        if any(t in self.LABEL_MAP_TASKS for t in stored):
            need.add(self.LABEL_MAP_FOLDER)
        dirs = {k: osp.join(root, k) for k in need}
        files = {k: self._listdir(d) for k, d in dirs.items()}
        parts = self.PARTS_TASK in self.tasks

        ann = {}
        for sample_id in ids:
            img_path = self._find(dirs['JPEGImages'], files['JPEGImages'],
                                  sample_id, ('.jpg', '.png'),
                                  'image (JPEGImages/)')
            label_map = None
            if self.LABEL_MAP_FOLDER in need:
                label_map = self._find(
                    dirs[self.LABEL_MAP_FOLDER], files[self.LABEL_MAP_FOLDER],
                    sample_id, ('.mat', ),
                    f'LabelMap ({self.LABEL_MAP_FOLDER}/)')
            reader_args = self._reader_args(label_map)
            info = {}
            for task in self.tasks:
                if task not in self.LAYOUT:
                    info[task] = self._extra_task_info(task, sample_id, files)
                    continue
                folders, ext, fmt = self.LAYOUT[task]
                name = sample_id + ext
                # the first folder that has the file; the last one's
                # missing-file error names every folder
                folder = next((f for f in folders[:-1] if name in files[f]),
                              folders[-1])
                where = ' or '.join(f + '/' for f in folders)
                path = self._find(dirs[folder], files[folder], sample_id,
                                  (ext, ), f'{task} ({where})')
                info[task] = dict(path=path, format=fmt,
                                  **reader_args.get(task, {}))
            ann[sample_id] = (img_path, info)

        has_parts = {}
        if parts:
            cache = self._parts_cache(
                ids, dirs[self.LAYOUT[self.PARTS_TASK][0][0]])
            has_parts = {
                i: PERSON_CLASS_IND in cache.get(i, [PERSON_CLASS_IND])
                for i in ids
            }
        drop = self.drop_images_without_parts
        if drop is None:
            drop = self.tasks == [self.PARTS_TASK]

        data_list = []
        for sample_id in ids:
            img_path, info = ann[sample_id]
            if parts:
                info[self.PARTS_TASK]['has_human_parts'] = has_parts[sample_id]
                if drop and not has_parts[sample_id]:
                    continue
            data_list.append(self._base_info(sample_id, img_path, info))
        return data_list
