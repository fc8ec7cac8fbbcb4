"""Hook drawing multi-task dense predictions during validation and testing.

Used with :class:`mmmtcp.visualization.MultiTaskLocalVisualizer` to inspect
the per-task outputs of multi-task models such as MT-CP ("Optimizing Dense
Visual Predictions Through Multi-Task Coherence and Prioritization",
Fontana et al., WACV 2025).
"""
import os.path as osp
import warnings
from typing import Optional, Sequence

import mmcv
import mmengine.fileio as fileio
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample


@HOOKS.register_module()
class MultiTaskVisualizationHook(Hook):
    """Draw the predictions and ground truth of every task.

    - Validation: every ``interval`` iterations, each sample of the batch is
      drawn and sent to the visualizer's backends (local files under
      ``visualizer.save_dir``, TensorBoard, ...).
    - Test: every sample is drawn. With ``test_out_dir`` the pictures are
      written to ``<work_dir>/<timestamp>/<test_out_dir>/<image stem>.png``;
      otherwise they go to the backends, so ``tools/test.py --show-dir DIR``
      (which sets ``default_hooks.visualization.draw=True`` and
      ``visualizer.save_dir=DIR``) stores one picture per image under DIR.

    Args:
        draw (bool): Whether to draw at all. Defaults to False.
        interval (int): Validation drawing interval in iterations.
            Defaults to 50.
        show (bool): Display the pictures (backends are then disabled).
            Defaults to False.
        wait_time (float): Display time in seconds. Defaults to 0.
        test_out_dir (str, optional): Directory (relative to the run's
            ``work_dir/timestamp``, or absolute) for test pictures.
        draw_gt (bool): Draw the ground-truth row. Defaults to True.
        draw_pred (bool): Draw the prediction row. Defaults to True.
        backend_args (dict, optional): File backend arguments used to read
            the input images.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None,
                 draw_gt: bool = True,
                 draw_pred: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        if interval < 1:
            raise ValueError('MultiTaskVisualizationHook.interval must be >= '
                             f'1, got {interval}')
        self._visualizer: Visualizer = Visualizer.get_current_instance()
        if not hasattr(self._visualizer, 'draw_multitask'):
            warnings.warn(
                'MultiTaskVisualizationHook expects the visualizer to be a '
                'MultiTaskLocalVisualizer, got '
                f'{type(self._visualizer).__name__}')
        self.draw = draw
        self.interval = interval
        self.show = show
        if self.show:
            # displaying only: do not store pictures in the backends
            self._visualizer._vis_backends = {}
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self.draw_gt = draw_gt
        self.draw_pred = draw_pred
        self.backend_args = backend_args.copy() if backend_args else None
        self._test_index = 0

    def _draw(self, runner: Runner, outputs: Sequence[SegDataSample],
              mode: str) -> None:
        for output in outputs:
            img_path = output.metainfo.get('img_path')
            if img_path is None:
                raise KeyError('MultiTaskVisualizationHook needs `img_path` '
                               'in the data samples to read the input image')
            img_bytes = fileio.get(img_path, backend_args=self.backend_args)
            img = mmcv.imfrombytes(img_bytes, channel_order='rgb')
            base = osp.basename(img_path)
            out_file = None
            if mode == 'test':
                step = self._test_index
                self._test_index += 1
                if self.test_out_dir is not None:
                    out_dir = self.test_out_dir if osp.isabs(
                        self.test_out_dir) else osp.join(
                            runner.work_dir, runner.timestamp,
                            self.test_out_dir)
                    out_file = osp.join(out_dir,
                                        osp.splitext(base)[0] + '.png')
            else:
                step = runner.iter
            self._visualizer.add_datasample(
                f'{mode}_{base}',
                img,
                data_sample=output,
                draw_gt=self.draw_gt,
                draw_pred=self.draw_pred,
                show=self.show,
                wait_time=self.wait_time,
                out_file=out_file,
                step=step)

    def after_val_iter(self, runner: Runner, batch_idx: int,
                       data_batch: dict,
                       outputs: Sequence[SegDataSample]) -> None:
        """Draw the batch every ``interval`` validation iterations."""
        if self.draw and self.every_n_inner_iters(batch_idx, self.interval):
            self._draw(runner, outputs, 'val')

    def before_test(self, runner: Runner) -> None:
        """Restart the picture counter of a test run."""
        self._test_index = 0

    def after_test_iter(self, runner: Runner, batch_idx: int,
                        data_batch: dict,
                        outputs: Sequence[SegDataSample]) -> None:
        """Draw every test sample."""
        if self.draw:
            self._draw(runner, outputs, 'test')
