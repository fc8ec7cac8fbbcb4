"""Visualizer of multi-task dense predictions.

Draws, for one image, the input and a prediction and a ground-truth panel
per task of a multi-task dense prediction model (MT-CP, "Optimizing Dense
Visual Predictions Through Multi-Task Coherence and Prioritization",
Fontana et al., WACV 2025) into a single picture.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.visualization import Visualizer
from mmseg.registry import VISUALIZERS

from mmmtcp.structures.data_sample import get_pixel_data
from mmmtcp.tasks import IGNORE_INDEX, TASKS, check_tasks, get_task

_COLORMAPS = {
    'viridis': cv2.COLORMAP_VIRIDIS,
    'magma': cv2.COLORMAP_MAGMA,
    'inferno': cv2.COLORMAP_INFERNO,
    'plasma': cv2.COLORMAP_PLASMA,
    'jet': cv2.COLORMAP_JET,
    'turbo': cv2.COLORMAP_TURBO,
}
_BACKGROUND = (32, 32, 32)
_TEXT = (255, 255, 255)


def default_palette(num: int) -> np.ndarray:
    """A fixed ``num x 3`` uint8 RGB palette (golden-ratio hue steps)."""
    hues = (np.arange(num) * 0.618033988749895 % 1.0 * 180).astype(np.uint8)
    sat = np.where(np.arange(num) % 2 == 0, 220, 160).astype(np.uint8)
    val = np.where(np.arange(num) % 3 == 0, 230, 190).astype(np.uint8)
    hsv = np.stack((hues, sat, val), axis=-1)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]


@VISUALIZERS.register_module()
class MultiTaskLocalVisualizer(Visualizer):
    """Draw every task's prediction and ground truth of one image.

    The picture is a grid of cells, each ``title_height + H + bar_height``
    pixels tall and ``W`` wide (``H x W`` = input image size). Columns: the
    input image, then one column per task; rows: predictions (if
    ``draw_pred``) then ground truth (if ``draw_gt``); the first column
    shows the input in every row. Each panel is drawn by the task's kind
    (:meth:`~mmmtcp.tasks.BaseTaskKind.render`); for the built-in kinds:

    - label (semseg / human_parts): the dataset palette
      (``dataset_meta['palette']`` / ``['human_parts_palette']``, the keys
      the task declares; a fixed palette when absent) blended over the
      image with ``alpha``; ignored pixels show the image.
    - depth: ``depth_colormap`` over the range of the valid gt depth (of
      the prediction when there is no gt), shared by both panels, invalid
      pixels black, with a colour bar labelled in metres below the panel.
    - normal: RGB = (n + 1) / 2; invalid (all-zero) pixels black.
    - boundary / binary (edge / saliency): grey levels = probability
      (prediction) or 0 / 1 (ground truth, ignored pixels mid grey).

    Every task whose kind has a ``colour_bar_unit`` gets a colour bar
    below its panels, spanning the range its kind's ``value_range`` gives
    for the task's maps (shared by its panels), labelled in that unit;
    ``bar_height`` is only reserved when such a task is drawn. Missing maps
    give a dark cell titled "n/a".

    Args:
        name (str): Instance name. Defaults to ``'visualizer'``.
        image (np.ndarray, optional): Image to draw on.
        vis_backends (list[dict], optional): Visual backend configs.
        save_dir (str, optional): Save directory of the backends.
        tasks (Sequence[str], optional): Tasks to draw, in this order; by
            default every task whose prediction or ground truth is in the
            data sample, in the order of :data:`mmmtcp.utils.TASKS`.
        alpha (float): Opacity of label colours over the image.
        title_height (int): Height of the title strip of each cell.
        bar_height (int): Height of the colour bar strip.
        depth_colormap (str): Colour map of depth and of every kind drawn
            with a colour bar (:meth:`render_colour_map`), one of
            ``viridis, magma, inferno, plasma, jet, turbo``.
        legend (int): Label panels name (with a colour swatch) up to this
            many of the classes they show, largest first, when the dataset
            metainfo has the class names. ``0`` draws no legend.
            Defaults to 5.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 tasks: Optional[Sequence[str]] = None,
                 alpha: float = 0.6,
                 title_height: int = 18,
                 bar_height: int = 18,
                 depth_colormap: str = 'viridis',
                 legend: int = 5,
                 **kwargs) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends,
                         save_dir=save_dir, **kwargs)
        self.tasks = check_tasks(tasks, 'MultiTaskLocalVisualizer.tasks') \
            if tasks is not None else None
        if depth_colormap not in _COLORMAPS:
            raise ValueError(f'MultiTaskLocalVisualizer.depth_colormap must '
                             f'be one of {sorted(_COLORMAPS)}, got '
                             f'{depth_colormap!r}')
        self.alpha = float(alpha)
        self.title_height = int(title_height)
        self.bar_height = int(bar_height)
        self.depth_colormap = _COLORMAPS[depth_colormap]
        self.legend = int(legend)

    # ---------------------------------------------------------- layout ----
    def _tasks_of(self, data_sample, draw_gt: bool,
                  draw_pred: bool) -> List[str]:
        if self.tasks is not None:
            return list(self.tasks)
        found = []
        for task, spec in TASKS.items():
            has_pred = get_pixel_data(data_sample, spec.pred_field) is not None
            has_gt = get_pixel_data(data_sample, spec.gt_field) is not None
            if (draw_pred and has_pred) or (draw_gt and has_gt):
                found.append(task)
        return found

    def layout(self, image_shape: Tuple[int, int], tasks: Sequence[str],
               draw_gt: bool = True,
               draw_pred: bool = True) -> Tuple[int, int, int, int]:
        """Size of the picture.

        Returns:
            tuple[int, int, int, int]: ``(rows, cols, cell_height,
            picture_height)``; the width is ``cols * W``.
        """
        h, _ = image_shape[:2]
        rows = max(int(draw_pred) + int(draw_gt), 1)
        cols = 1 + (len(tasks) if (draw_gt or draw_pred) else 0)
        bar = self.bar_height if any(
            self._bar_unit(t) is not None for t in tasks) else 0
        cell_h = self.title_height + h + bar
        return rows, cols, cell_h, rows * cell_h

    @staticmethod
    def _bar_unit(task: str) -> Optional[str]:
        """Unit of the task's colour bar, ``None`` for no bar."""
        return get_task(task).kind_impl.colour_bar_unit

    # -------------------------------------------------------- renderers ----
    def _palette(self, task: str, num: int) -> np.ndarray:
        meta = self.dataset_meta or {}
        palette = meta.get(get_task(task).palette_key or '')
        if palette is not None and len(palette) >= num:
            return np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
        return default_palette(max(num, 1))

    def _render_labels(self, task: str, image: np.ndarray,
                       labels: np.ndarray) -> np.ndarray:
        labels = labels.astype(np.int64)
        valid = labels != IGNORE_INDEX
        num = int(labels[valid].max()) + 1 if valid.any() else 1
        meta = self.dataset_meta or {}
        classes = meta.get(get_task(task).classes_key or '')
        if classes is not None:
            num = max(num, len(classes))
        palette = self._palette(task, num)
        colours = palette[np.where(valid, labels, 0)]
        out = image.astype(np.float32)
        out[valid] = (1 - self.alpha) * out[valid] + self.alpha * colours[
            valid]
        out = out.astype(np.uint8)
        if classes is not None and self.legend > 0 and valid.any():
            ids, counts = np.unique(labels[valid], return_counts=True)
            shown = ids[np.argsort(-counts, kind='stable')][:self.legend]
            self._draw_legend(out, [(classes[i] if i < len(classes) else
                                     str(i), palette[i]) for i in shown])
        return out

    def _draw_legend(self, panel: np.ndarray, entries: list) -> None:
        """Colour swatches and class names in the panel's top-left corner,
        on a dark band so they stay readable (in place)."""
        scale = self.title_height / 40.0
        (_, text_h), _ = cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX,
                                         scale, 1)
        line = text_h + 6
        for row, (name, colour) in enumerate(entries):
            y0 = 2 + row * line
            if y0 + line > panel.shape[0]:
                break
            (text_w, _), _ = cv2.getTextSize(str(name),
                                             cv2.FONT_HERSHEY_SIMPLEX, scale,
                                             1)
            x1 = min(panel.shape[1], 4 + text_h + 4 + text_w + 4)
            band = panel[y0:y0 + line, 0:x1]
            band[:] = (band * 0.4).astype(np.uint8)
            cv2.rectangle(panel, (3, y0 + 3), (3 + text_h, y0 + 3 + text_h),
                          tuple(int(c) for c in colour), -1)
            cv2.putText(panel, str(name), (6 + text_h, y0 + 3 + text_h),
                        cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT, 1,
                        cv2.LINE_AA)

    def render_colour_map(self,
                          values: np.ndarray,
                          lo: float,
                          hi: float,
                          valid: Optional[np.ndarray] = None) -> np.ndarray:
        """Draw a scalar map with ``depth_colormap`` over ``[lo, hi]`` (the
        colours of the colour bar).

        Args:
            values (np.ndarray): ``H x W`` values.
            lo (float): Value of the first colour.
            hi (float): Value of the last colour.
            valid (np.ndarray, optional): ``H x W`` mask of the pixels to
                draw; the others are black. Defaults to the finite values.

        Returns:
            np.ndarray: ``H x W x 3`` uint8 RGB picture.
        """
        if valid is None:
            valid = np.isfinite(values)
        norm = np.clip((values - lo) / max(hi - lo, 1e-6), 0, 1)
        norm[~valid] = 0
        bgr = cv2.applyColorMap((norm * 255).astype(np.uint8),
                                self.depth_colormap)
        rgb = bgr[..., ::-1].copy()
        rgb[~valid] = 0
        return rgb

    def _render_depth(self, depth: np.ndarray, lo: float,
                      hi: float) -> np.ndarray:
        return self.render_colour_map(depth, lo, hi, depth > 0)

    def _colour_bar(self, width: int, lo: float, hi: float,
                    unit: str) -> np.ndarray:
        ramp = np.linspace(0, 255, max(width, 1)).astype(np.uint8)
        ramp = np.repeat(ramp[None], self.bar_height, axis=0)
        bar = cv2.applyColorMap(ramp, self.depth_colormap)[..., ::-1].copy()
        scale = self.bar_height / 36.0
        for text, left in ((f'{lo:.2f}{unit}', True),
                           (f'{hi:.2f}{unit}', False)):
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX,
                                          scale, 1)
            x = 2 if left else max(width - tw - 2, 0)
            y = (self.bar_height + th) // 2
            cv2.putText(bar, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (0, 0, 0), 2, cv2.LINE_AA)
            cv2.putText(bar, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        _TEXT, 1, cv2.LINE_AA)
        return bar

    @staticmethod
    def _render_normals(normals: np.ndarray) -> np.ndarray:
        rgb = np.clip((normals + 1.0) / 2.0 * 255.0, 0, 255).astype(np.uint8)
        rgb[~np.any(normals != 0, axis=-1)] = 0
        return rgb

    @staticmethod
    def _render_gray(values: np.ndarray, is_gt: bool) -> np.ndarray:
        if is_gt:
            grey = np.where(values == IGNORE_INDEX, 128,
                            np.where(values > 0, 255, 0))
        else:
            grey = np.clip(values, 0, 1) * 255
        grey = grey.astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)

    @staticmethod
    def _read(data_sample, field: str, task: str,
              size: Tuple[int, int]) -> Optional[np.ndarray]:
        data = get_pixel_data(data_sample, field)
        if data is None:
            return None
        kind = get_task(task).kind_impl
        data = kind.unpack(data)
        if data.shape[:2] != tuple(size):
            interp = (cv2.INTER_NEAREST
                      if kind.is_label and data.dtype.kind in 'iub' else
                      cv2.INTER_LINEAR)
            data = cv2.resize(data.astype(np.float32), size[::-1],
                              interpolation=interp)
        return data

    # ----------------------------------------------------------- drawing ----
    def draw_multitask(self,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True) -> np.ndarray:
        """Render the picture of one image.

        Args:
            image (np.ndarray): ``H x W x 3`` RGB input image.
            data_sample (SegDataSample | dict, optional): Sample with
                ``pred_*`` and / or ``gt_*`` fields.
            draw_gt (bool): Draw the ground-truth row.
            draw_pred (bool): Draw the prediction row.

        Returns:
            np.ndarray: The RGB picture (uint8).
        """
        image = np.ascontiguousarray(image[..., :3]).astype(np.uint8)
        h, w = image.shape[:2]
        tasks = self._tasks_of(data_sample, draw_gt, draw_pred) \
            if data_sample is not None else []
        rows, cols, cell_h, pic_h = self.layout((h, w), tasks, draw_gt,
                                                draw_pred)
        canvas = np.empty((pic_h, cols * w, 3), dtype=np.uint8)
        canvas[:] = _BACKGROUND
        row_kinds = [k for k, on in (('pred', draw_pred), ('gt', draw_gt))
                     if on] or ['input']
        maps: Dict[Tuple[str, str], Optional[np.ndarray]] = {}
        for task in tasks:
            spec = get_task(task)
            for kind in row_kinds:
                field = spec.pred_field if kind == 'pred' else spec.gt_field
                maps[(task, kind)] = self._read(data_sample, field, task,
                                                (h, w))
        value_ranges = self._value_ranges(tasks, maps)
        for r, kind in enumerate(row_kinds):
            y0 = r * cell_h
            self._put_cell(canvas, y0, 0, w, 'input', image)
            for c, task in enumerate(tasks, start=1):
                data = maps.get((task, kind))
                title = f'{task} {kind}'
                if data is None:
                    self._put_cell(canvas, y0, c * w, w, f'{title}: n/a',
                                   None)
                    continue
                value_range = value_ranges.get(task, (0.0, 1.0))
                panel = self._render(task, image, data, kind == 'gt',
                                     value_range)
                self._put_cell(canvas, y0, c * w, w, title, panel)
                unit = self._bar_unit(task)
                if unit is not None:
                    bar = self._colour_bar(w, *value_range, unit)
                    top = y0 + self.title_height + h
                    canvas[top:top + self.bar_height, c * w:(c + 1) * w] = bar
        return canvas

    def _value_ranges(
        self, tasks: Sequence[str],
        maps: Dict[Tuple[str, str], Optional[np.ndarray]]
    ) -> Dict[str, Tuple[float, float]]:
        """Colour-map range of every task drawn with a colour bar, from its
        ground truth, else its prediction (the kind's ``value_range``)."""
        return {
            task: get_task(task).kind_impl.value_range(
                [maps.get((task, 'gt')),
                 maps.get((task, 'pred'))])
            for task in tasks if self._bar_unit(task) is not None
        }

    def _render(self, task: str, image: np.ndarray, data: np.ndarray,
                is_gt: bool, value_range: Tuple[float, float]) -> np.ndarray:
        return get_task(task).kind_impl.render(
            data, image, visualizer=self, task=task, is_gt=is_gt,
            value_range=value_range)

    def _put_cell(self, canvas: np.ndarray, y0: int, x0: int, w: int,
                  title: str, panel: Optional[np.ndarray]) -> None:
        th = self.title_height
        scale = th / 36.0
        (_, text_h), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX,
                                         scale, 1)
        strip = canvas[y0:y0 + th, x0:x0 + w]
        cv2.putText(strip, title, (2, (th + text_h) // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT, 1, cv2.LINE_AA)
        if panel is not None:
            canvas[y0 + th:y0 + th + panel.shape[0], x0:x0 + w] = panel

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> None:
        """Draw one image's multi-task picture and store or show it.

        The picture is shown when ``show``, written to ``out_file`` when
        given (by every rank, for its own samples), and otherwise sent to
        the visualization backends (``add_image`` on the main process, e.g.
        local files under ``save_dir`` or TensorBoard).

        Args:
            name (str): Image identifier.
            image (np.ndarray): RGB input image.
            data_sample (SegDataSample, optional): Predictions and / or
                ground truth.
            draw_gt (bool): Draw ground truth. Defaults to True.
            draw_pred (bool): Draw predictions. Defaults to True.
            show (bool): Display the picture. Defaults to False.
            wait_time (float): Display time in seconds. Defaults to 0.
            out_file (str, optional): Output image file.
            step (int): Global step for the backends.
        """
        drawn = self.draw_multitask(image, data_sample, draw_gt, draw_pred)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
