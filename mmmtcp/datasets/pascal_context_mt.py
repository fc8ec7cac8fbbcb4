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

from mmmtcp.utils.geometry import NORMAL_AXES
from .formats import PERSON_CLASS_IND, person_part_summary
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
      :func:`mmmtcp.utils.thinning.thin`; for evaluation
      (``edge_gt='seg2bmap'``, the default in test mode), the ground truth
      of the SEISM boundary benchmark, ``thin(seg2bmap(LabelMap))``
      (:func:`mmmtcp.utils.boundary_maps.seg2bmap`), so the metric runs
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
      tvmonitor (:data:`mmmtcp.datasets.formats.PASCAL_NORMALS_VALID_CLASSES`).
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

    def load_data_list(self) -> List[dict]:
        """Index the split, checking every requested file exists."""
        root = self._check_root()
        ids = self._read_split()
        d = dict(
            img=osp.join(root, 'JPEGImages'),
            voc=osp.join(root, 'semseg', 'VOC12'),
            ctx=osp.join(root, 'semseg', 'pascal-context'),
            parts=osp.join(root, 'human_parts'),
            sal=osp.join(root, 'sal_distill'),
            normals=osp.join(root, 'normals_distill'),
            labelmap=osp.join(root, 'pascal-context', 'trainval'))
        need = {'img'}
        if 'semseg' in self.tasks:
            need |= {'voc', 'ctx'}
        for task, key in (('human_parts', 'parts'), ('saliency', 'sal'),
                          ('normals', 'normals'), ('edge', 'labelmap')):
            if task in self.tasks:
                need.add(key)
        if 'normals' in self.tasks:
            need.add('labelmap')
        files = {k: self._listdir(d[k]) for k in need}

        ann = {}
        for sample_id in ids:
            img_path = self._find(d['img'], files['img'], sample_id,
                                  ('.jpg', '.png'), 'image (JPEGImages/)')
            info = {}
            labelmap = None
            if 'edge' in self.tasks or 'normals' in self.tasks:
                labelmap = self._find(d['labelmap'], files['labelmap'],
                                      sample_id, ('.mat', ),
                                      'LabelMap (pascal-context/trainval/)')
            if 'semseg' in self.tasks:
                if sample_id + '.png' in files['voc']:
                    path = osp.join(d['voc'], sample_id + '.png')
                else:
                    path = self._find(
                        d['ctx'], files['ctx'], sample_id, ('.png', ),
                        'semseg (semseg/VOC12/ or semseg/pascal-context/)')
                info['semseg'] = dict(
                    path=path, format='label_png',
                    num_classes=len(self._metainfo['classes']))
            if 'human_parts' in self.tasks:
                info['human_parts'] = dict(
                    path=self._find(d['parts'], files['parts'], sample_id,
                                    ('.mat', ), 'human parts (human_parts/)'),
                    format='human_parts_mat')
            if 'saliency' in self.tasks:
                info['saliency'] = dict(
                    path=self._find(d['sal'], files['sal'], sample_id,
                                    ('.png', ), 'saliency (sal_distill/)'),
                    format='saliency_png')
            if 'normals' in self.tasks:
                info['normals'] = dict(
                    path=self._find(d['normals'], files['normals'], sample_id,
                                    ('.png', ),
                                    'normals (normals_distill/)'),
                    format='pascal_normals_png',
                    label_map_path=labelmap)
                if self.normal_signs is not None:
                    info['normals']['normal_signs'] = self.normal_signs
            if 'edge' in self.tasks:
                info['edge'] = dict(path=labelmap, format='pascal_edge_mat',
                                    boundaries=self.edge_gt)
            for task in self.tasks:
                if task not in self.METAINFO['tasks']:
                    info[task] = self._extra_task_info(task, sample_id, files)
            ann[sample_id] = (img_path, info)

        has_parts = {}
        if 'human_parts' in self.tasks:
            cache = self._parts_cache(ids, d['parts'])
            has_parts = {
                i: PERSON_CLASS_IND in cache.get(i, [PERSON_CLASS_IND])
                for i in ids
            }
        drop = self.drop_images_without_parts
        if drop is None:
            drop = self.tasks == ['human_parts']

        data_list = []
        for sample_id in ids:
            img_path, info = ann[sample_id]
            if 'human_parts' in self.tasks:
                info['human_parts']['has_human_parts'] = has_parts[sample_id]
                if drop and not has_parts[sample_id]:
                    continue
            data_list.append(self._base_info(sample_id, img_path, info))
        return data_list
