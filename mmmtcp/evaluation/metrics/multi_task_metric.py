"""Data-set level metrics of multi-task dense prediction.

Implements the evaluation protocol of the NYUD-v2 / PASCAL-Context tables of
InvPT ("Inverted Pyramid Multi-task Transformer for Dense Scene
Understanding", Ye and Xu, ECCV 2022) and MT-CP ("Optimizing Dense Visual
Predictions Through Multi-Task Coherence and Prioritization", Fontana et al.,
WACV 2025), the multi-task gain delta_m (Maninis et al., CVPR 2019;
Vandenhende et al., TPAMI 2021) and mmmtcp's cross-task coherence measures.
"""
import logging
import os.path as osp
from typing import (Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple,
                    Union)

import numpy as np
from mmengine.dist import (all_gather_object, broadcast_object_list,
                           get_world_size, is_main_process)
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist
from mmseg.registry import METRICS

from mmmtcp.functional import (MATCHERS, SEISM_THRESHOLDS, edge_seg_stats,
                               f_measure, normal_depth_stats, pr_from_counts,
                               sum_stats, thresholds_between,
                               tolerance_in_pixels)
from mmmtcp.functional.dense import per_class_table
from mmmtcp.functional.geometry import (NORMAL_AXES, check_intrinsics,
                                        restore_intrinsics, scale_intrinsics)
from mmmtcp.structures import get_metainfo, get_pixel_data, write_prediction
from mmmtcp.tasks.task_spec import (IGNORE_INDEX, check_tasks, get_task,
                                    lower_is_better, pick_task)


class CoherenceMeasure(NamedTuple):
    """A cross-task coherence measure of :class:`MultiTaskMetric`.

    Args:
        roles (tuple[str, str]): The coherence roles
            (:attr:`mmmtcp.tasks.BaseTaskKind.coherence_role`) of its first
            and second task.
        summary (str): ``'angle'`` (mean of the summed angles, degrees) or
            ``'F'`` (F-measure of the summed counts, percent).
        nonfinite_rule (str): How a non-finite input pixel is scored (a
            task's own rule is its kind's ``nonfinite_rule``).
        matcher_suffix (bool): Whether its key takes the suffix of a
            non-protocol ``edge_matcher`` (``edge_seg_F_dilate``).

    The per-image stats of measure ``<name>`` are computed by
    ``MultiTaskMetric._<name>_stats``.
    """
    roles: Tuple[str, str]
    summary: str
    nonfinite_rule: str
    matcher_suffix: bool = False


#: The coherence measures, by name; a pair of tasks is measured by the one
#: whose roles its tasks' kinds have.
COHERENCE_MEASURES: Dict[str, CoherenceMeasure] = {
    'normal_depth_angle':
    CoherenceMeasure(('metric_depth', 'unit_normals'), 'angle',
                     'an angle of 180 degrees'),
    'edge_seg_F':
    CoherenceMeasure(('boundaries', 'regions'), 'F',
                     'an unmatched boundary pixel', matcher_suffix=True),
}


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Metrics of every task of a multi-task dense prediction model.

    All metrics are computed over the whole data set from summed per-image
    statistics (confusion matrices, error sums, histograms, per-threshold
    counts), never by averaging per-image scores: ``process`` folds each
    image's fixed-size stats into running sums, so memory does not grow with
    the number of images, and ``evaluate`` adds the sums of all ranks,
    dropping the distributed sampler's padding duplicates.

    Returned keys (percent for mIoU / accuracies / F / within; metres for
    depth; degrees for angles):

    - ``semseg.mIoU``, ``semseg.aAcc``; ``human_parts.mIoU``,
      ``human_parts.aAcc``: confusion matrix over the data set, ignore 255,
      classes from ``dataset_meta['classes']`` /
      ``dataset_meta['human_parts_classes']``. See ``ignore_empty_classes``.
    - ``depth.rmse``, ``depth.abs_rel``, ``depth.log_rmse``: pooled over all
      pixels with gt > 0 of the data set (``sqrt(sum e^2 / N)``); the log
      error clamps predictions at 1e-9.
    - ``normals.mean``, ``normals.median``, ``normals.rmse``,
      ``normals.within_11_25``, ``normals.within_22_5``,
      ``normals.within_30``: angle between unit-normalized prediction and gt
      over pixels with a non-zero gt vector. The median comes from a summed
      histogram with 0.1 degree bins (linear interpolation in the median
      bin, error below 0.1 degree).
    - ``saliency.maxF`` (``beta^2`` default 0.3) over thresholds
      ``k / (saliency_num_thresholds + 1)`` (0.05..0.95 by default, as in
      MTL-PyTorch / InvPT), with true / predicted / actual positives summed
      over the data set per threshold before precision and recall (the
      InvPT ``SaliencyMeter`` protocol); ``saliency.mIoU``: mean of the
      background and foreground IoU of the map thresholded at 0.5 (data-set
      confusion matrix). A pixel is positive when ``prob >= t``.
    - ``edge.odsF``, ``edge.oisF``: see "Boundary protocol".
    - ``delta_m`` (only with ``baselines``): ``100 / T * sum_t
      (-1)^{l_t} (M_t - S_t) / S_t`` with ``l_t = 1`` for lower-is-better
      metrics (depth errors, normal angles). When a task lists several
      baseline metrics, its term is the mean of their relative gains.
    - ``coherence.<pair>`` (``coherence=True``): the cross-task coherence
      measures of ``coherence_pairs``. By default one pair per measure of
      :data:`COHERENCE_MEASURES`, named after it, whose tasks are picked by
      the coherence role of their kind (among several tasks of a role, the
      first declared ``primary``, else the first): for the built-in tasks
      the two below.
    - ``coherence.normal_depth_angle`` (a ``metric_depth`` task such as
      depth and a ``unit_normals`` task such as normals): mean angle
      between the predicted normals and the normals derived from the
      predicted depth (back-projected with the sample's
      ``camera_intrinsics`` metainfo, unflipped and scaled to the map size,
      or, without them, ``dataset_meta['camera_intrinsics']`` scaled to the
      map size; see :mod:`mmmtcp.functional.geometry` for the convention; cross
      product of central differences, oriented toward the camera, expressed
      in ``dataset_meta['normal_axes']``), over pixels where the derived
      normals are defined (the pixel and its 4 neighbours have depth > 0,
      not on the image border) and the gt normal is valid (when gt normals
      are present).
    - ``coherence.edge_seg_F`` (a ``boundaries`` task such as edge and a
      ``regions`` task: semseg, which is primary, else human_parts):
      F-measure between the predicted boundaries (``prob >= 0.5``,
      thinned) and the thinned boundaries of the predicted label map
      (pixels with a 4-neighbour of another label), matched with the edge
      tolerance, counts summed over the data set.
    - ``coherence_gt.normal_depth_angle``, ``coherence_gt.edge_seg_F``
      (``coherence_on_gt=True``): the same measures on the ground truth
      (gt normals vs. normals of the gt depth; gt boundaries vs. boundaries
      between two known labels of the gt label map, both restricted to
      pixels where neither the gt edge nor the gt label is 255), the
      reference level of a perfect model.
    - ``<task>.nonfinite_pixels`` (int, present only when > 0): number of
      evaluated pixels of the data set (valid ground truth) whose
      prediction was NaN, +inf or -inf (in any channel of a normal;
      ``NONFINITE_LABEL`` = -1 in a label map, which
      :class:`MultiTaskSegmentor` writes where the logits are not all
      finite). Those pixels are scored as the task's worst error, never
      dropped: labels as a prediction of no class (a false negative of the
      ground-truth class, a false positive of none, so it lowers that IoU
      and aAcc); depth as the worst prediction in ``[0, D]`` (``D`` the
      image's largest valid gt depth), which keeps every depth metric
      finite; normals as 180 degrees; saliency as ``1 - gt`` (wrong at every
      threshold); edges as an unmatched predicted boundary pixel at every
      threshold. ``coherence.<measure>.nonfinite_pixels`` likewise counts
      the pixels a coherence measure scored as the worst (180 degrees, or
      an unmatched boundary pixel) because an input was not finite. Every
      non-zero count also logs one warning per task (or measure) and
      evaluation naming it. The counts are part of the summed stats, so
      they cover all ranks in distributed evaluation.

    Boundary protocol: the SEISM evaluation behind the published NYUD-v2 /
    PASCAL-Context tables (ATRC, InvPT, TaskPrompter, MT-CP), step by step:

    1. the probability map is quantized as its uint8 PNG stores it;
    2. ``edge_nms``: non-maximum suppression along the boundary normal
       (SEISM's ``read_one_cont_png``: orientation from the triangle-smoothed
       map, ``edgesNmsMex(E, O, 1, 5, 1.01)``);
    3. for each threshold (``edge_thresholds``; by default SEISM's 0.001,
       0.01, ..., 0.99, 0.999) the candidates ``E > t`` are thinned
       (:func:`thin`, the Lam-Lee-Suen algorithm of MATLAB ``bwmorph(..,
       'thin', Inf)``);
    4. ``edge_gt_boundaries``: the ground truth is ``thin(seg2bmap(gt))``,
       as SEISM's ``edgesEvalImg`` treats every ground truth (for NYUD-v2
       the 0/1 edge PNG; the PASCAL-Context data set supplies
       ``thin(seg2bmap(LabelMap))`` in test mode and its config turns this
       step off);
    5. ``edge_matcher='correspond'``: predicted and gt pixels within
       ``edge_tolerance`` times the image diagonal are matched one-to-one
       (``correspondPixels``; :mod:`..functional.correspond_pixels`
       explains why the exact maximum matching equals its assignment).

    odsF is the best F of the per-threshold counts summed over the data set;
    oisF sums each image's counts at its own best threshold (the first of
    equal ones). ``edge_matcher='dilate'`` instead counts a pixel as matched
    when *any* pixel of the other map lies within the tolerance, an upper
    bound of the protocol's counts (2-6 F points higher on cluttered maps),
    reported as ``edge.odsF_dilate`` / ``edge.oisF_dilate`` so the two are
    never confused. Ground-truth pixels equal to 255 (padding) are removed
    from both maps; SEISM has no ignore label.

    Args:
        tasks (Sequence[str]): Tasks to evaluate.
        edge_tolerance (float): Boundary matching distance as a fraction of
            the image diagonal: 0.011 for NYUD-v2, 0.0075 for PASCAL-Context.
        edge_matcher (str): ``'correspond'`` (one-to-one, the protocol) or
            ``'dilate'`` (any partner; keys ``edge.odsF_dilate``, ...).
        edge_nms (bool): Non-maximum suppression before thresholding, as
            the protocol reads predictions. Defaults to True.
        edge_gt_boundaries (bool): Evaluate against
            ``thin(seg2bmap(gt))`` (the protocol's treatment of the NYUD-v2
            edge maps). Defaults to True.
        num_thresholds (int, optional): Number of evenly spaced boundary
            thresholds ``k / (num_thresholds + 1)``; None (default) uses
            SEISM's 101 thresholds 0.001, 0.01, ..., 0.99, 0.999.
        saliency_num_thresholds (int): Number of saliency thresholds (19
            gives 0.05..0.95).
        saliency_beta2 (float): ``beta^2`` of the saliency F-measure.
        baselines (dict, optional): ``{task: {metric: single-task value}}``
            (or ``{task: value}`` for the task's primary metric: semseg /
            human_parts mIoU, depth rmse, normals mean, edge odsF, saliency
            maxF) in the units reported here, for ``delta_m``.
        coherence (bool): Compute the cross-task coherence measures.
        coherence_pairs (dict[str, Sequence[str]], optional): The pairs of
            tasks whose coherence is measured, ``{name: (task_a,
            task_b)}``, reported as ``coherence.<name>``; the measure is the
            one of :data:`COHERENCE_MEASURES` whose roles the two tasks'
            kinds have (in either order), e.g. ``dict(edge_seg_F=('edge',
            'semseg'), occlusion_seg_F=('occlusion', 'semseg'))``. Defaults
            to the pairs derived from the tasks' kinds (see above).
        coherence_on_gt (bool): Also compute them on the ground truth.
        ignore_empty_classes (bool): Leave classes absent from both gt and
            prediction out of the mIoU mean (default). False counts them as
            IoU 0 as MTL-PyTorch / InvPT do; the two agree on the full
            validation sets, where every class occurs.
        output_dir (str, optional): Write the raw predictions in the
            community formats: ``<task>/<image stem>.png`` for labels (uint8
            ids), normals (RGB = (n + 1) * 255 / 2), edges and saliency
            (uint8 round(prob * 255)); ``depth/<stem>.npy`` (float32
            metres). The directory is created when the metric is built;
            the files are never deleted. mmseg's ``tools/test.py --out
            DIR`` sets ``test_evaluator.output_dir=DIR`` (and
            ``keep_results=True``).
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Prefix of the metric names.
        collect_dir (str, optional): Directory for cpu collection.
        keep_results (bool): Keep the files written to ``output_dir``, the
            argument mmseg's ``tools/test.py --out`` sets. The files are
            always kept (as mmseg's ``IoUMetric`` does); ``False``, which
            would ask to delete them after the evaluation as mmseg's
            ``CityscapesMetric`` does, is refused together with
            ``output_dir``. Defaults to True.
    """
    default_prefix = ''

    def __init__(self,
                 tasks: Sequence[str],
                 edge_tolerance: float = 0.011,
                 edge_matcher: str = 'correspond',
                 edge_nms: bool = True,
                 edge_gt_boundaries: bool = True,
                 num_thresholds: Optional[int] = None,
                 saliency_num_thresholds: int = 19,
                 saliency_beta2: float = 0.3,
                 baselines: Optional[Dict[str, Union[float, Dict[
                     str, float]]]] = None,
                 coherence: bool = False,
                 coherence_pairs: Optional[Dict[str, Sequence[str]]] = None,
                 coherence_on_gt: bool = True,
                 ignore_empty_classes: bool = True,
                 output_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 keep_results: bool = True) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        self.tasks = check_tasks(tasks, 'MultiTaskMetric.tasks')
        if not edge_tolerance > 0:
            raise ValueError('MultiTaskMetric.edge_tolerance must be > 0, got '
                             f'{edge_tolerance}')
        self.edge_tolerance = float(edge_tolerance)
        if edge_matcher not in MATCHERS:
            raise ValueError(f'MultiTaskMetric.edge_matcher must be one of '
                             f'{MATCHERS}, got {edge_matcher!r}')
        self.edge_matcher = edge_matcher
        self.edge_nms = bool(edge_nms)
        self.edge_gt_boundaries = bool(edge_gt_boundaries)
        if num_thresholds is None:
            self.edge_thresholds = SEISM_THRESHOLDS.copy()
        else:
            if not (isinstance(num_thresholds, int) and num_thresholds >= 1):
                raise ValueError('MultiTaskMetric.num_thresholds must be an '
                                 'int >= 1 or None (SEISM\'s thresholds), '
                                 f'got {num_thresholds!r}')
            self.edge_thresholds = thresholds_between(num_thresholds)
        self.saliency_thresholds = thresholds_between(saliency_num_thresholds)
        self.saliency_beta2 = float(saliency_beta2)
        self.coherence = coherence
        self.coherence_on_gt = coherence_on_gt
        self.coherence_pairs = self._check_coherence_pairs(coherence_pairs)
        #: measure of every coherence stats key (with and without ``_gt``)
        self._coherence_keys: Dict[str, str] = {}
        for name, (measure, _) in self.coherence_pairs.items():
            key = self._coherence_key(name, measure)
            for prefix in ('coherence', 'coherence_gt'):
                self._coherence_keys[f'{prefix}.{key}'] = measure
        self.ignore_empty_classes = ignore_empty_classes
        self.baselines = self._check_baselines(baselines)
        if output_dir and not keep_results:
            raise ValueError(
                'MultiTaskMetric.keep_results=False with output_dir='
                f'{output_dir!r}: the predictions are written to output_dir '
                'to be kept and are never deleted; leave output_dir unset to '
                'write nothing.')
        self.keep_results = keep_results
        self.output_dir = output_dir
        if output_dir and is_main_process():
            mkdir_or_exist(output_dir)
        self._num_evaluations = 0

    def _check_baselines(self, baselines) -> Dict[str, Dict[str, float]]:
        if not baselines:
            return {}
        out: Dict[str, Dict[str, float]] = {}
        for task, values in baselines.items():
            if task not in self.tasks:
                raise ValueError(
                    f'MultiTaskMetric.baselines has task {task!r}, which is '
                    f'not in tasks={self.tasks}')
            known = self._metric_names(task)
            if not isinstance(values, Mapping):
                values = {known[0]: values}
            for name, value in values.items():
                if name not in known:
                    raise ValueError(
                        f'MultiTaskMetric.baselines[{task!r}] has unknown '
                        f'metric {name!r}; known: {known}')
                if not value:
                    raise ValueError(
                        f'MultiTaskMetric.baselines[{task!r}][{name!r}] must '
                        f'be non-zero, got {value!r}')
            out[task] = {k: float(v) for k, v in values.items()}
        return out

    def _default_coherence_pairs(self) -> Dict[str, Tuple[str, str]]:
        """One pair per measure whose roles the tasks' kinds have."""
        pairs = {}
        for name, measure in COHERENCE_MEASURES.items():
            picked = [
                pick_task([
                    t for t in self.tasks
                    if get_task(t).kind_impl.coherence_role == role
                ]) for role in measure.roles
            ]
            if None not in picked:
                pairs[name] = tuple(picked)
        return pairs

    def _check_coherence_pairs(
        self, pairs: Optional[Dict[str, Sequence[str]]]
    ) -> Dict[str, Tuple[str, Tuple[str, str]]]:
        """``{name: (measure, (task_a, task_b))}`` of the measured pairs,
        the tasks in the order of the measure's roles."""
        key = 'MultiTaskMetric.coherence_pairs'
        if pairs is None:
            pairs = self._default_coherence_pairs()
        elif not isinstance(pairs, Mapping):
            raise ValueError(f'{key} must be a dict {{name: (task_a, '
                             f'task_b)}}, got {pairs!r}')
        out = {}
        for name, tasks in pairs.items():
            where = f'{key}.{name}'
            if isinstance(tasks, str) or len(tasks) != 2:
                raise ValueError(f'{where} must be two task names, got '
                                 f'{tasks!r}')
            unknown = [t for t in tasks if t not in self.tasks]
            if unknown:
                raise ValueError(f'{where} names {unknown}, which are not in '
                                 f'tasks={self.tasks}')
            roles = tuple(
                get_task(t).kind_impl.coherence_role for t in tasks)
            for measure, spec in COHERENCE_MEASURES.items():
                if roles == spec.roles:
                    out[name] = (measure, tuple(tasks))
                    break
                if roles[::-1] == spec.roles:
                    out[name] = (measure, tuple(tasks[::-1]))
                    break
            else:
                raise ValueError(
                    f'{where}: tasks {list(tasks)} have the coherence roles '
                    f'{list(roles)} (their kinds\' `coherence_role`), which '
                    'no coherence measure relates; the measures relate ' +
                    ', '.join(f'{list(m.roles)} ({n})'
                              for n, m in COHERENCE_MEASURES.items()))
        return out

    def _coherence_key(self, name: str, measure: str) -> str:
        """Metric key (after ``coherence.``) of a coherence pair."""
        if COHERENCE_MEASURES[measure].matcher_suffix and \
                self.edge_matcher != 'correspond':
            return f'{name}_{self.edge_matcher}'
        return name

    # ------------------------------------------------------------------
    def _num_classes(self, task: str) -> int:
        key = get_task(task).classes_key
        if key is None:
            raise KeyError(
                f'MultiTaskMetric: label task {task!r} declares no '
                '`classes_key` (the dataset metainfo key of its class names)')
        meta = self.dataset_meta or {}
        if key not in meta:
            raise KeyError(
                f'MultiTaskMetric needs dataset_meta[{key!r}] to evaluate '
                f'{task!r}; the dataset metainfo does not provide it')
        return len(meta[key])

    def _read(self, sample, task: str):
        spec = get_task(task)
        pred = get_pixel_data(sample, spec.pred_field)
        gt = get_pixel_data(sample, spec.gt_field)
        name = get_metainfo(sample, 'img_path', '<unknown image>')
        if pred is None:
            raise KeyError(f'MultiTaskMetric: the data sample of {name} has '
                           f'no prediction {spec.pred_field!r} for task '
                           f'{task!r}')
        if gt is None:
            raise KeyError(f'MultiTaskMetric: the data sample of {name} has '
                           f'no ground truth {spec.gt_field!r} for task '
                           f'{task!r}')
        kind = spec.kind_impl
        pred, gt = kind.unpack(pred), kind.unpack(gt)
        if pred.shape != gt.shape:
            raise ValueError(
                f'MultiTaskMetric: {task} prediction {pred.shape} and ground '
                f'truth {gt.shape} of {name} differ in size; predictions '
                'must be at the ground-truth resolution')
        return pred, gt

    def process(self, data_batch: Optional[dict],
                data_samples: Sequence[dict]) -> None:
        """Compute and store the per-image stats of a batch.

        Args:
            data_batch (dict, optional): Unused.
            data_samples (Sequence[dict | SegDataSample]): Samples carrying
                ``pred_*`` and ``gt_*`` fields of every task.
        """
        for sample in data_samples:
            maps = {task: self._read(sample, task) for task in self.tasks}
            stats: Dict[str, dict] = {}
            for task, (pred, gt) in maps.items():
                stats[task] = self._task_stats(task, pred, gt)
            if self.coherence:
                stats.update(self._coherence_stats(maps, sample))
            self._accumulate(stats)
            if self.output_dir:
                self._write(sample, maps)

    @staticmethod
    def _add(total: Dict[str, dict], stats: Dict[str, dict]) -> Dict[str, dict]:
        """Sum two ``{group: stats}`` dicts group by group."""
        out = dict(total)
        for key, value in stats.items():
            out[key] = sum_stats([out[key], value]) if key in out else \
                sum_stats([value])
        return out

    def _accumulate(self, stats: Dict[str, dict]) -> None:
        """Fold an image's stats into this rank's running sums.

        ``self.results`` holds ``[sum of all earlier images, stats of the
        last image, number of images]``: memory stays that of one set of
        accumulators whatever the data set size. The last image is kept
        apart because it may be a padding duplicate of the distributed
        sampler, which :meth:`evaluate` drops.
        """
        if not self.results:
            self.results.extend([{}, None, 0])
        acc, last, count = self.results
        if last is not None:
            acc = self._add(acc, last)
        self.results[:] = [acc, stats, count + 1]

    def evaluate(self, size: int) -> dict:
        """Reduce the running sums of all ranks and compute the metrics.

        mmengine's samplers deal samples round-robin (rank ``r`` gets global
        positions ``r, r + W, r + 2W, ...``) and pad the end with repeated
        samples so every rank has as many; so only a rank's last image can
        be padding, and it is counted iff its global position is below
        ``size``, exactly as ``collect_results`` would keep it.

        Args:
            size (int): Length of the data set.

        Returns:
            dict: The metrics (prefixed when ``prefix`` is set).
        """
        part = list(self.results)
        parts = all_gather_object(part) if get_world_size() > 1 else [part]
        world = len(parts)
        total: Dict[str, dict] = {}
        for rank, p in enumerate(parts):
            if not p:
                continue
            acc, last, count = p
            total = self._add(total, acc)
            if last is not None and (count - 1) * world + rank < size:
                total = self._add(total, last)
        if not total:
            print_log(
                'MultiTaskMetric got no samples; check that `process` '
                'receives the predictions', logger='current',
                level=logging.WARNING)
        if is_main_process():
            metrics = self.compute_metrics([total] if total else [])
            if self.prefix:
                metrics = {f'{self.prefix}/{k}': v for k, v in metrics.items()}
            out = [metrics]
        else:
            out = [None]
        broadcast_object_list(out)
        self.results.clear()
        return out[0]

    def _metric_names(self, task: str) -> Tuple[str, ...]:
        """Names of a task's metrics under this metric's settings."""
        return get_task(task).kind_impl.reported_names(
            **self._kind_settings(task, with_classes=False))

    def _kind_settings(self, task: str, with_classes: bool = True) -> dict:
        """The metric settings a task's kind may use."""
        spec = get_task(task)
        settings = dict(
            task=task,
            edge_tolerance=self.edge_tolerance,
            edge_thresholds=self.edge_thresholds,
            edge_matcher=self.edge_matcher,
            edge_nms=self.edge_nms,
            edge_gt_boundaries=self.edge_gt_boundaries,
            saliency_thresholds=self.saliency_thresholds,
            saliency_beta2=self.saliency_beta2,
            ignore_empty_classes=self.ignore_empty_classes)
        if with_classes and spec.classes_key is not None:
            settings['num_classes'] = self._num_classes(task)
        return settings

    def _task_stats(self, task: str, pred: np.ndarray,
                    gt: np.ndarray) -> dict:
        return get_task(task).kind_impl.stats(pred, gt,
                                              **self._kind_settings(task))

    # ------------------------------------------------------------------
    def _camera(self, sample, shape: Sequence[int]
                ) -> Tuple[float, float, float, float]:
        """``fx, fy, cx, cy`` of a sample in pixels of its ``shape`` maps.

        Predictions and ground truth are compared at ``ori_shape``, unflipped
        (:class:`MultiTaskSegmentor` undoes the test-time flip and resize).
        The sample's own ``camera_intrinsics`` (metainfo) are used when
        present: they followed the image through the pipeline's resizes,
        crops and flips, so the recorded flip is undone and they are scaled
        to ``shape`` (:func:`mmmtcp.functional.geometry.restore_intrinsics`).
        Otherwise ``dataset_meta['camera_intrinsics']``, which describe the
        data set's original images, are scaled to ``shape``.

        Args:
            sample (dict | SegDataSample, optional): The data sample.
            shape (Sequence[int]): ``(H, W)`` of the maps.

        Returns:
            tuple[float, float, float, float]: ``fx, fy, cx, cy``.
        """
        intr = None if sample is None else get_metainfo(
            sample, 'camera_intrinsics')
        if intr is not None:
            name = get_metainfo(sample, 'img_path', '<unknown image>')
            check_intrinsics(intr, f'the camera_intrinsics of {name}')
            flip_direction = None
            if get_metainfo(sample, 'flip', False):
                flip_direction = get_metainfo(sample, 'flip_direction',
                                              'horizontal')
            k = restore_intrinsics(intr, shape, flip_direction)
        else:
            meta = self.dataset_meta or {}
            if 'camera_intrinsics' not in meta:
                raise KeyError(
                    'MultiTaskMetric(coherence=True) needs camera intrinsics '
                    'to relate depth and normals: neither the data sample '
                    "(metainfo 'camera_intrinsics') nor "
                    "dataset_meta['camera_intrinsics'] provides them")
            intr = meta['camera_intrinsics']
            check_intrinsics(intr, "dataset_meta['camera_intrinsics']")
            k = scale_intrinsics(intr, shape[1], shape[0])
        return (k['fx'], k['fy'], k['cx'], k['cy'])

    def _coherence_stats(self, maps: dict,
                         sample=None) -> Dict[str, dict]:
        """Per-image stats of every coherence pair, keyed
        ``coherence[_gt].<key>``."""
        out: Dict[str, dict] = {}
        for name, (measure, (first, second)) in self.coherence_pairs.items():
            key = self._coherence_key(name, measure)
            stats = getattr(self, f'_{measure}_stats')
            out.update(stats(key, maps[first], maps[second], sample))
        return out

    def _normal_depth_angle_stats(self, key: str, depth: tuple,
                                  normals: tuple, sample) -> Dict[str, dict]:
        """Angles between the normals and those derived from the depth."""
        meta = self.dataset_meta or {}
        axes = meta.get('normal_axes', NORMAL_AXES)
        (pd, gd), (pn, gn) = depth, normals
        gt_valid = np.any(gn != 0, axis=-1)
        cam = self._camera(sample, pd.shape)
        out = {
            f'coherence.{key}':
            normal_depth_stats(pd, pn, cam, axes, gt_valid)
        }
        if self.coherence_on_gt:
            out[f'coherence_gt.{key}'] = normal_depth_stats(
                gd, gn, cam, axes, gt_valid)
        return out

    def _edge_seg_F_stats(self, key: str, edge: tuple, seg: tuple,
                          sample) -> Dict[str, dict]:
        """Boundary counts of the boundaries against the label borders."""
        (pe, ge), (ps, gs) = edge, seg
        max_dist = tolerance_in_pixels(pe.shape, self.edge_tolerance)
        out = {
            f'coherence.{key}':
            edge_seg_stats(pe, ps, max_dist, matcher=self.edge_matcher)
        }
        if self.coherence_on_gt:
            valid = (ge != IGNORE_INDEX) & (gs != IGNORE_INDEX)
            out[f'coherence_gt.{key}'] = edge_seg_stats(
                ge == 1, gs, max_dist, edge_threshold=None,
                ignore_index=IGNORE_INDEX, valid=valid,
                matcher=self.edge_matcher)
        return out

    # ------------------------------------------------------------------
    def _write(self, sample, maps: dict) -> None:
        img_path = get_metainfo(sample, 'img_path')
        if img_path is None:
            raise KeyError('MultiTaskMetric(output_dir=...) needs `img_path` '
                           'in the data samples to name the output files')
        stem = osp.splitext(osp.basename(img_path))[0]
        for task, (pred, _) in maps.items():
            write_prediction(self.output_dir, stem, task, pred)

    # ------------------------------------------------------------------
    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Sum the per-image stats and compute the data-set metrics.

        Args:
            results (list[dict]): Stats dicts to sum (per image, or the
                running sums that :meth:`evaluate` reduced over ranks).

        Returns:
            dict[str, float]: Metric values keyed as documented above.
        """
        metrics: Dict[str, float] = {}
        per_task: Dict[str, Dict[str, float]] = {}
        self._num_evaluations += 1
        for task in self.tasks:
            total = sum_stats(r[task] for r in results)
            if not total:
                continue
            spec = get_task(task)
            values = spec.kind_impl.summarize(total,
                                              **self._kind_settings(task))
            if 'IoU' in values:
                names = (self.dataset_meta or {}).get(spec.classes_key)
                print_log(f'{task} per-class IoU:\n' +
                          per_class_table(names, values.pop('IoU')),
                          logger='current')
            per_task[task] = values
            metrics.update({f'{task}.{k}': v for k, v in values.items()})
            self._report_nonfinite(metrics, task, total)
        if self.baselines:
            metrics['delta_m'] = self.delta_m(per_task)
        if self.coherence and results:
            for key in results[0]:
                if key not in self._coherence_keys:
                    continue
                total = sum_stats(r[key] for r in results)
                measure = COHERENCE_MEASURES[self._coherence_keys[key]]
                if measure.summary == 'angle':
                    n = float(total['count'])
                    metrics[key] = float(total['sum'] / n) if n else np.nan
                else:
                    p, r = pr_from_counts(total['counts'])
                    metrics[key] = float(f_measure(p, r)) * 100
                self._report_nonfinite(metrics, key, total)
        return metrics

    def _report_nonfinite(self, metrics: Dict[str, float], name: str,
                          total: dict) -> None:
        """Add ``<name>.nonfinite_pixels`` and warn when it is not zero.

        The warning names the evaluation's number: MMLogger's handlers show
        a repeated identical warning only once, and a model that keeps
        producing NaN must be reported at every evaluation.

        Args:
            metrics (dict): The metrics being returned (updated in place).
            name (str): Task name or coherence key.
            total (dict): Summed stats with an optional ``nonfinite`` entry.
        """
        count = int(np.sum(total.get('nonfinite', 0)))
        if count == 0:
            return
        metrics[f'{name}.nonfinite_pixels'] = count
        if name in self.tasks:
            rule = get_task(name).kind_impl.nonfinite_rule
        elif name in self._coherence_keys:
            measure = COHERENCE_MEASURES[self._coherence_keys[name]]
            rule = measure.nonfinite_rule
        else:
            rule = 'the worst error'
        what = 'input' if name.startswith('coherence') else 'prediction'
        print_log(
            f'MultiTaskMetric (evaluation {self._num_evaluations}): '
            f'{name}: {count} evaluated pixels have a '
            f'non-finite {what} (NaN or inf); they are scored as {rule}',
            logger='current',
            level=logging.WARNING)

    def delta_m(self, per_task: Dict[str, Dict[str, float]]) -> float:
        """Multi-task gain in percent against ``self.baselines``.

        Args:
            per_task (dict): ``{task: {metric: value}}``.

        Returns:
            float: ``100 / T * sum_t (-1)^{l_t} (M_t - S_t) / S_t``.
        """
        return multi_task_gain(per_task, self.baselines)


def multi_task_gain(per_task: Mapping[str, Mapping[str, float]],
                    baselines: Mapping[str, Mapping[str, float]]) -> float:
    """Multi-task gain delta_m in percent.

    Args:
        per_task (Mapping): ``{task: {metric: value}}`` of the model.
        baselines (Mapping): ``{task: {metric: reference value}}``; a task
            with several metrics contributes the mean of their relative
            gains.

    Returns:
        float: ``100 / T * sum_t (-1)^{l_t} (M_t - S_t) / S_t`` with
        ``l_t = 1`` for the metrics the task's kind lists in
        ``lower_is_better``; NaN when a reference value is 0 (a relative
        gain against nothing is undefined, e.g. an mIoU of 0 after a few
        iterations).
    """
    gains = []
    for task, base in baselines.items():
        terms = []
        for name, ref in base.items():
            value = per_task[task][name]
            sign = -1.0 if lower_is_better(task, name) else 1.0
            terms.append(sign * (value - ref) / ref if ref != 0 else
                         float('nan'))
        gains.append(np.mean(terms))
    return float(np.mean(gains)) * 100
