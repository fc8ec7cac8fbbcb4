"""Evaluate saved multi-task predictions against a config's test set,
without a model.

The files are those :class:`~mmmtcp.evaluation.MultiTaskMetric` writes with
``output_dir`` (``tools/test.py --out DIR``), or that another code base wrote
in the same community formats, one per task and image::

    PRED_DIR/<task>/<image stem>.png    labels (uint8 ids, 255: no class),
                                        normals (RGB = (n + 1) * 255 / 2),
                                        edge / saliency (round(p * 255))
    PRED_DIR/depth/<image stem>.npy     float32 metres

:func:`evaluate_predictions` scores them with the config's
``test_evaluator`` (a ``MultiTaskMetric``) against the ground truth that the
test pipeline loads, at the original resolution; every prediction is turned
back into what the model puts into the data sample's ``pred_*`` field
(:func:`read_prediction`), so the metrics are those ``tools/test.py``
reports for the same predictions, up to what the file formats cannot hold
(normals and probabilities are quantized to uint8; labels of 256 classes or
more do not fit).

With ``nproc > 1`` the images are evaluated by worker processes (worker
``k`` on images ``k, k + nproc, ...``), each with its own data set and
metric; the per-image statistics are folded in data-set order, exactly as a
single process does, so the metrics do not depend on ``nproc`` (bit for
bit, floating-point sums included). The workers are started with
``'spawn'`` by default: a ``fork`` of a process that has already run
OpenCV's or OpenMP's thread pools can hang in the child (measured here:
``cv2.setNumThreads`` in a forked worker of the test process waited
forever), and the worker function lives in this importable module so that
every start method can run it. ``tools/analysis_tools/eval_predictions.py``
is the command line.
"""
import multiprocessing
import os
import os.path as osp
import pickle
import queue as queue_module
import sys
import time
import traceback
from typing import Dict, Iterator, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, METRICS

from mmmtcp.evaluation import MultiTaskMetric
from mmmtcp.tasks import (IGNORE_INDEX, NONFINITE_LABEL, BinaryKind,
                          LabelKind, NormalKind, get_task)

#: the start methods ``start_method`` accepts
START_METHODS = ('fork', 'spawn', 'forkserver')
#: errors of the inputs (config, data, predictions), reported by their
#: message alone
USER_ERRORS = (FileNotFoundError, ValueError, KeyError)


def default_nproc() -> int:
    """Number of CPUs this process may run on."""
    if hasattr(os, 'sched_getaffinity'):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def load_eval_config(config: str, cfg_options: Optional[dict] = None):
    """Load a config, apply overrides and import the plugin.

    The config's ``custom_imports`` are imported by ``Config.fromfile``;
    ``mmmtcp`` is imported in any case (it registers the data sets,
    transforms and the metric) and the config's default scope (``mmseg``)
    is set, as ``tools/test.py`` does.

    Args:
        config (str): Config file.
        cfg_options (dict, optional): ``--cfg-options`` overrides.

    Returns:
        Config: The loaded config.

    Raises:
        FileNotFoundError: If the config file does not exist.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def _evaluator_cfg(cfg) -> dict:
    """The ``test_evaluator`` config of the single ``MultiTaskMetric``,
    writing no files."""
    evaluator = cfg.get('test_evaluator')
    if isinstance(evaluator, (list, tuple)):
        if len(evaluator) != 1:
            raise ValueError(
                f'{cfg.filename}: test_evaluator lists {len(evaluator)} '
                'metrics; eval_predictions.py evaluates with exactly one '
                'MultiTaskMetric')
        evaluator = evaluator[0]
    if not isinstance(evaluator, dict) or 'type' not in evaluator:
        raise ValueError(f'{cfg.filename}: test_evaluator must be a metric '
                         f'config dict, got {evaluator!r}')
    evaluator = dict(evaluator)
    # the predictions are read, never written again (output_dir may even
    # be PRED_DIR itself)
    evaluator.pop('output_dir', None)
    evaluator.pop('keep_results', None)
    return evaluator


def build_dataset_and_metric(cfg) -> Tuple[object, object]:
    """Build ``cfg.test_dataloader.dataset`` and ``cfg.test_evaluator``.

    Args:
        cfg (Config): Config loaded by :func:`load_eval_config`.

    Returns:
        tuple: The data set and the metric, whose ``dataset_meta`` is the
        data set's metainfo.

    Raises:
        ValueError: If the config has no test data set or its evaluator is
            not a ``MultiTaskMetric``.
    """
    loader = cfg.get('test_dataloader')
    if not isinstance(loader, dict) or 'dataset' not in loader:
        raise ValueError(f'{cfg.filename}: the config has no '
                         'test_dataloader.dataset')
    dataset = DATASETS.build(loader['dataset'])
    metric = METRICS.build(_evaluator_cfg(cfg))
    if not isinstance(metric, MultiTaskMetric):
        raise ValueError(
            f'{cfg.filename}: test_evaluator builds a '
            f'{type(metric).__name__}; eval_predictions.py needs a '
            'MultiTaskMetric')
    metric.dataset_meta = dataset.metainfo
    return dataset, metric


def prediction_path(pred_dir: str, stem: str, task: str) -> str:
    """Path of a task's saved prediction: ``<pred_dir>/<task>/<stem><ext>``
    with the extension the task's kind writes (``.png`` or ``.npy``)."""
    spec = get_task(task)
    shape = (1, 1) if spec.channels == 1 else (1, 1, spec.channels)
    ext, _ = spec.kind_impl.write(np.zeros(shape, dtype=np.float32))
    return osp.join(pred_dir, task, stem + ext)


def read_prediction(pred_dir: str, stem: str, task: str) -> np.ndarray:
    """Read a saved prediction back into the model's ``pred_*`` values.

    The inverse of :func:`mmmtcp.functional.write_prediction`:

    - labels (``label`` kind): int64 ids; 255, which ``write_prediction``
      writes for a non-finite prediction, becomes ``NONFINITE_LABEL``;
    - normals: float32 ``H x W x 3``, ``2 * rgb / 255 - 1`` (not
      re-normalized; the metric normalizes);
    - edge / saliency (``binary`` kinds): float32 probabilities
      ``png / 255``;
    - ``.npy`` maps (depth, float metres; other kinds): float32 as stored,
      ``H x W`` for one channel.

    Args:
        pred_dir (str): Prediction root.
        stem (str): Image file name without extension.
        task (str): Task name.

    Returns:
        np.ndarray: ``H x W`` map, or ``H x W x C`` for multi-channel tasks.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it cannot be read or has the wrong layout.
    """
    spec = get_task(task)
    kind = spec.kind_impl
    path = prediction_path(pred_dir, stem, task)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'prediction file {path} of task {task!r} does not exist')
    if path.endswith('.npy'):
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f'cannot read prediction {path}: {e}') from None
        data = np.asarray(data, dtype=np.float32)
        if spec.channels == 1 and data.ndim == 3 and data.shape[0] == 1:
            data = data[0]  # a packed 1 x H x W map
        elif spec.channels == 1 and data.ndim == 3 and data.shape[2] == 1:
            data = data[..., 0]
        expected = 2 if spec.channels == 1 else 3
        if data.ndim != expected or (expected == 3
                                     and data.shape[2] != spec.channels):
            raise ValueError(
                f'prediction {path} of task {task!r} has shape '
                f'{data.shape}; expected H x W' +
                ('' if spec.channels == 1 else f' x {spec.channels}'))
        return data
    flag = cv2.IMREAD_COLOR if isinstance(
        kind, NormalKind) else cv2.IMREAD_UNCHANGED
    img = cv2.imread(path, flag)
    if img is None:
        raise ValueError(f'cannot read prediction {path} (not an image?)')
    if isinstance(kind, NormalKind):
        rgb = img[..., ::-1].astype(np.float32)
        return rgb * np.float32(2. / 255.) - np.float32(1.)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(
            f'prediction {path} of task {task!r} must be a single-channel '
            f'uint8 PNG, got shape {img.shape} and dtype {img.dtype}')
    if isinstance(kind, LabelKind):
        labels = img.astype(np.int64)
        labels[img == IGNORE_INDEX] = NONFINITE_LABEL
        return labels
    if isinstance(kind, BinaryKind):
        return img.astype(np.float32) / np.float32(255.)
    raise ValueError(
        f'eval_predictions.py cannot decode {path}: task {task!r} of kind '
        f'{kind.name!r} writes PNGs, and only label, normal and binary / '
        'boundary PNGs have a known inverse')


def add_predictions(sample, pred_dir: str, tasks: Sequence[str]) -> None:
    """Put the saved predictions of a data sample into its ``pred_*``
    fields, as ``PixelData`` holding ``C x H x W`` tensors (int64 labels,
    float32 otherwise), as the model does.

    Args:
        sample (SegDataSample): Sample from the test pipeline; the file stem
            is that of its ``img_path``.
        pred_dir (str): Prediction root.
        tasks (Sequence[str]): Tasks to read.
    """
    img_path = sample.metainfo.get('img_path')
    if img_path is None:
        raise KeyError('the test pipeline must keep `img_path` in the data '
                       'samples (PackMultiTaskInputs meta_keys) to name the '
                       'prediction files')
    stem = osp.splitext(osp.basename(img_path))[0]
    for task in tasks:
        pred = read_prediction(pred_dir, stem, task)
        data = pred[None] if pred.ndim == 2 else pred.transpose(2, 0, 1)
        dtype = np.int64 if pred.dtype.kind == 'i' else np.float32
        tensor = torch.from_numpy(np.ascontiguousarray(data, dtype=dtype))
        sample.set_field(PixelData(data=tensor), get_task(task).pred_field)


def image_stats(dataset, metric, pred_dir: str, index: int) -> dict:
    """Per-image statistics of one data-set index.

    Runs the test pipeline (ground truth at the original resolution), reads
    the predictions and calls ``metric.process`` on the sample, as
    mmengine's evaluator does (``data_sample.to_dict()``).

    Args:
        dataset: The test data set.
        metric (MultiTaskMetric): The metric; its running sums are left
            as they were.
        pred_dir (str): Prediction root.
        index (int): Data-set index.

    Returns:
        dict: The image's ``{group: stats}``.
    """
    sample = dataset[index]['data_samples']
    add_predictions(sample, pred_dir, metric.tasks)
    running = list(metric.results)
    metric.results.clear()
    try:
        metric.process(None, [sample.to_dict()])
        stats = metric.results[1]
    finally:
        metric.results[:] = running
    return stats


def _chunk_worker(config: str, cfg_options: Optional[dict], pred_dir: str,
                  indices: Sequence[int], queue) -> None:
    """Worker process: build its own data set and metric and put
    ``(index, stats)`` of every index of its chunk into ``queue``; on an
    error put ``(None, (exception, traceback text))`` and stop."""
    try:
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        cfg = load_eval_config(config, cfg_options)
        dataset, metric = build_dataset_and_metric(cfg)
        for index in indices:
            queue.put((index, image_stats(dataset, metric, pred_dir, index)))
    except BaseException as e:  # noqa: B902  (re-raised by the parent)
        text = traceback.format_exc()
        try:
            pickle.dumps(e)
        except Exception:  # noqa: B902
            e = RuntimeError(f'{type(e).__name__}: {e}')
        queue.put((None, (e, text)))


def _parallel_stats(config: str, cfg_options: Optional[dict],
                    pred_dir: str, num: int, nproc: int,
                    start_method: str) -> Iterator[dict]:
    """Per-image statistics of ``num`` images from ``nproc`` worker
    processes, yielded in data-set order.

    Worker ``k`` evaluates the interleaved chunk ``k, k + nproc, ...``;
    results that arrive before their turn wait in a buffer (a few images
    while the workers keep pace).
    """
    ctx = multiprocessing.get_context(start_method)
    queue = ctx.Queue()
    workers = [
        ctx.Process(
            target=_chunk_worker,
            args=(config, cfg_options, pred_dir, list(range(k, num, nproc)),
                  queue),
            daemon=True) for k in range(nproc)
    ]
    for worker in workers:
        worker.start()
    try:
        pending: Dict[int, dict] = {}
        for index in range(num):
            while index not in pending:
                try:
                    got, item = queue.get(timeout=1.0)
                except queue_module.Empty:
                    dead = [w for w in workers
                            if w.exitcode not in (None, 0)]
                    if dead:
                        raise RuntimeError(
                            f'eval_predictions.py: worker process '
                            f'{dead[0].pid} exited with code '
                            f'{dead[0].exitcode} without a result') from None
                    continue
                if got is None:
                    error, text = item
                    if not isinstance(error, USER_ERRORS):
                        print(f'[eval_predictions] worker error:\n{text}',
                              file=sys.stderr, flush=True)
                    raise error
                pending[got] = item
            yield pending.pop(index)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join()
        queue.close()


def evaluate_predictions(config: str,
                         pred_dir: str,
                         nproc: Optional[int] = None,
                         cfg_options: Optional[dict] = None,
                         start_method: Optional[str] = None,
                         progress: bool = True) -> Dict[str, float]:
    """Evaluate a directory of saved predictions.

    Every image's statistics are computed (with ``nproc > 1`` by worker
    processes, worker ``k`` on the interleaved chunk ``k, k + nproc, ...``
    with its own data set and metric) and folded into the running sums of
    one metric in data-set order, the order in which a single process
    folds them (``MultiTaskMetric.process``), so the metrics are identical
    for every ``nproc``, floating-point sums included (summing each
    worker's running sums instead would add the floats in another order).

    Args:
        config (str): Config file.
        pred_dir (str): Directory of ``<task>/<image stem>.<ext>`` files.
        nproc (int, optional): Worker processes; 1 evaluates in this
            process. Defaults to the number of usable CPUs, at most the
            number of images.
        cfg_options (dict, optional): Config overrides.
        start_method (str, optional): ``'fork'``, ``'spawn'`` or
            ``'forkserver'`` of the workers; defaults to ``'spawn'``.
        progress (bool): Print progress lines to stderr.

    Returns:
        dict[str, float]: The metrics of ``MultiTaskMetric``.

    Raises:
        FileNotFoundError: If the config, ``pred_dir`` or a prediction file
            does not exist.
        ValueError: If ``nproc`` is not positive, the data set is empty or
            a prediction cannot be read or has the wrong size.
    """
    if not osp.isdir(pred_dir):
        raise FileNotFoundError(
            f'prediction directory {pred_dir} does not exist')
    if nproc is not None and (not isinstance(nproc, int) or nproc < 1):
        raise ValueError(f'--nproc must be a positive integer, got {nproc!r}')
    if start_method is not None and start_method not in START_METHODS:
        raise ValueError(f'start_method must be one of {START_METHODS}, got '
                         f'{start_method!r}')
    cfg = load_eval_config(config, cfg_options)
    dataset, metric = build_dataset_and_metric(cfg)
    num = len(dataset)
    if num == 0:
        raise ValueError(f'{config}: the test data set is empty')
    nproc = min(nproc or default_nproc(), num)
    start = time.perf_counter()
    done = 0
    step = max(1, num // 10)

    def report() -> None:
        if progress and (done % step == 0 or done == num):
            print(f'[eval_predictions] {done}/{num} images, '
                  f'{time.perf_counter() - start:.1f} s',
                  file=sys.stderr, flush=True)

    if nproc == 1:
        stream = (image_stats(dataset, metric, pred_dir, index)
                  for index in range(num))
    else:
        if start_method is None:
            start_method = 'spawn'
        del dataset  # the workers build their own
        stream = _parallel_stats(config, cfg_options, pred_dir, num, nproc,
                                 start_method)
    try:
        for stats in stream:
            metric._accumulate(stats)
            done += 1
            report()
    finally:
        if hasattr(stream, 'close'):
            stream.close()  # stops the workers after an error
    acc, last, _ = metric.results
    total = metric._add(acc, last)
    metric.results.clear()
    return metric.compute_metrics([total])
