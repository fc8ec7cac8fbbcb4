"""MultiTaskLocalVisualizer and MultiTaskVisualizationHook."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from torch.utils.data import Dataset

import mmmtcp  # noqa: F401
from mmmtcp.engine.hooks.visualization_hook import MultiTaskVisualizationHook
from mmmtcp.tasks import TASKS, get_task
from mmmtcp.visualization import MultiTaskLocalVisualizer
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample

H, W = 30, 40
META = dict(
    classes=('a', 'b', 'c'),
    palette=[[10, 20, 30], [200, 0, 0], [0, 200, 0]],
    human_parts_classes=tuple(f'p{i}' for i in range(7)),
    camera_intrinsics=dict(fx=518.858, fy=519.470, cx=325.582, cy=253.736,
                           width=640, height=480),
    normal_axes=('right', 'up', 'toward_camera'))


def scene(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    seg = np.zeros((H, W), np.int64)
    seg[:, W // 2:] = 2
    normals = np.zeros((H, W, 3), np.float32)
    normals[..., 2] = 1
    edge = np.zeros((H, W), np.int64)
    edge[:, W // 2] = 1
    return dict(
        semseg=seg,
        depth=(1 + rng.random((H, W))).astype(np.float32),
        normals=normals,
        edge=edge,
        human_parts=np.where(seg > 0, 3, 0),
        saliency=(seg > 0).astype(np.int64))


def to_pixel(task, array, pred):
    if task == 'normals':
        return PixelData(data=torch.from_numpy(np.ascontiguousarray(
            array.transpose(2, 0, 1))))
    if task == 'depth' or (pred and task in ('edge', 'saliency')):
        return PixelData(data=torch.from_numpy(array[None].astype(
            np.float32)))
    return PixelData(data=torch.from_numpy(array[None].astype(np.int64)))


def fill(sample: SegDataSample, maps: dict, gt=True, pred=True):
    for task, array in maps.items():
        spec = get_task(task)
        if gt:
            sample.set_field(to_pixel(task, array, False), spec.gt_field)
        if pred:
            sample.set_field(to_pixel(task, array, True), spec.pred_field)
    return sample


def test_visualizer_writes_grid(tmp_path):
    init_default_scope('mmseg')
    vis = VISUALIZERS.build(dict(type='MultiTaskLocalVisualizer',
                                 name='mt_vis_grid', title_height=16,
                                 bar_height=12, alpha=1.0, legend=0))
    vis.dataset_meta = META
    image = np.full((H, W, 3), 100, np.uint8)
    sample = fill(SegDataSample(), scene())
    out_file = str(tmp_path / 'vis.png')
    vis.add_datasample('x', image, sample, out_file=out_file)
    drawn = cv2.imread(out_file)
    cell_h = 16 + H + 12
    assert drawn.shape == (2 * cell_h, 7 * W, 3)
    rgb = drawn[..., ::-1]
    tasks = list(TASKS)
    # input panel
    assert (rgb[16:16 + H, :W] == 100).all()
    # semseg prediction: palette colours (alpha 1)
    col = 1 + tasks.index('semseg')
    panel = rgb[16:16 + H, col * W:(col + 1) * W]
    assert (panel[:, :W // 2] == [10, 20, 30]).all()
    assert (panel[:, W // 2:] == [0, 200, 0]).all()
    # normals (0, 0, 1) -> RGB (127, 127, 255)
    col = 1 + tasks.index('normals')
    panel = rgb[16:16 + H, col * W:(col + 1) * W]
    assert np.abs(panel.astype(int) - [127, 127, 255]).max() <= 1
    # ground-truth edge panel (second row): white line on black
    col = 1 + tasks.index('edge')
    panel = rgb[cell_h + 16:cell_h + 16 + H, col * W:(col + 1) * W]
    assert (panel[:, W // 2] == 255).all() and (panel[:, 0] == 0).all()
    # depth colour bar below the depth panel is not background
    col = 1 + tasks.index('depth')
    bar = rgb[16 + H:cell_h, col * W:(col + 1) * W]
    assert bar.std() > 10


def test_label_panels_name_their_classes():
    vis = MultiTaskLocalVisualizer(
        name='mt_vis_legend', alpha=1.0, title_height=40, legend=2)
    vis.dataset_meta = META
    image = np.full((60, 80, 3), 100, np.uint8)
    labels = np.zeros((60, 80), np.int64)
    labels[:, 30:] = 2  # class 'c' is the larger one, then 'a'
    panel = vis._render_labels('semseg', image, labels)
    # first legend row: swatch of 'c', second: swatch of 'a'
    line = cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)[0][1] + 6
    assert (panel[6, 6] == [0, 200, 0]).all()
    assert (panel[2 + line + 4, 6] == [10, 20, 30]).all()
    # text was written: the band is not the flat class colour
    assert len(np.unique(panel[2:2 + line, 20:60].reshape(-1, 3),
                         axis=0)) > 2
    vis.legend = 0
    bare = vis._render_labels('semseg', image, labels)
    assert (bare[:, :30] == [10, 20, 30]).all()


def test_visualizer_rows_and_missing_maps(tmp_path):
    vis = MultiTaskLocalVisualizer(name='mt_vis_rows', title_height=10,
                                   bar_height=8)
    vis.dataset_meta = META
    image = np.zeros((H, W, 3), np.uint8)
    maps = scene()
    sample = fill(SegDataSample(), {'semseg': maps['semseg']}, gt=False)
    fill(sample, {'edge': maps['edge']}, pred=True)
    drawn = vis.draw_multitask(image, sample, draw_gt=False)
    assert drawn.shape == (10 + H, 3 * W, 3)  # no depth: no bar
    drawn = vis.draw_multitask(image, sample)
    assert drawn.shape == (2 * (10 + H), 3 * W, 3)
    # semseg has no gt: that cell stays background
    gt_cell = drawn[2 * 10 + H:, W:2 * W]
    assert (gt_cell == 32).all()
    only_input = vis.draw_multitask(image, sample, False, False)
    assert only_input.shape == (10 + H, W, 3)
    with pytest.raises(ValueError, match='depth_colormap'):
        MultiTaskLocalVisualizer(name='mt_vis_bad', depth_colormap='nope')


def test_visualizer_sends_to_backends(tmp_path):
    vis = MultiTaskLocalVisualizer(
        name='mt_vis_backend', save_dir=str(tmp_path),
        vis_backends=[dict(type='LocalVisBackend')])
    vis.dataset_meta = META
    image = np.zeros((H, W, 3), np.uint8)
    vis.add_datasample('val_img.png', image, fill(SegDataSample(), scene()),
                       step=3)
    files = os.listdir(osp.join(str(tmp_path), 'vis_data', 'vis_image'))
    assert files == ['val_img.png_3.png']


class TinyScenes(Dataset):
    """Images on disk with their maps as packed data samples."""

    def __init__(self, root: str, num: int = 3) -> None:
        self.metainfo = dict(META, tasks=list(TASKS))
        self.items = []
        for i in range(num):
            path = osp.join(root, f'scene_{i}.png')
            cv2.imwrite(path, np.full((H, W, 3), 40 * i, np.uint8))
            self.items.append((path, scene(i)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, idx: int) -> dict:
        path, maps = self.items[idx]
        sample = SegDataSample(metainfo=dict(
            img_path=path, ori_shape=(H, W), img_shape=(H, W)))
        fill(sample, maps, pred=False)
        return dict(inputs=torch.zeros(3, H, W), data_samples=sample)


class CopyGroundTruth(BaseModel):
    """Predicts the ground truth (probabilities for edges / saliency)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        for sample in data_samples:
            for task, spec in TASKS.items():
                gt = getattr(sample, spec.gt_field).data
                if spec.kind == 'label':
                    pred = torch.where(gt == 255, torch.zeros_like(gt), gt)
                elif spec.kind in ('binary', 'boundary'):
                    pred = (gt == 1).float()
                else:
                    pred = gt * self.scale.detach()
                sample.set_field(PixelData(data=pred), spec.pred_field)
        return data_samples


def test_hook_in_test_loop(tmp_path):
    init_default_scope('mmseg')
    data_root = tmp_path / 'data'
    data_root.mkdir()
    runner = Runner(
        model=CopyGroundTruth(),
        work_dir=str(tmp_path / 'work'),
        test_dataloader=dict(
            dataset=TinyScenes(str(data_root)),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0),
        test_cfg=dict(type='TestLoop'),
        # a copy of the gt scores 100 without the protocol's border fading
        # and gt boundary redraw (tested in test_boundary_protocol.py)
        test_evaluator=dict(type='MultiTaskMetric', tasks=list(TASKS),
                            coherence=True, num_thresholds=9,
                            edge_tolerance=0.03, edge_nms=False,
                            edge_gt_boundaries=False),
        default_hooks=dict(visualization=dict(
            type='MultiTaskVisualizationHook', draw=True,
            test_out_dir='vis')),
        visualizer=dict(type='MultiTaskLocalVisualizer',
                        name='mt_vis_runner'),
        default_scope='mmseg')
    hooks = [h for h in runner.hooks
             if isinstance(h, MultiTaskVisualizationHook)]
    assert len(hooks) == 1
    metrics = runner.test()
    assert metrics['semseg.mIoU'] == pytest.approx(100)
    assert metrics['edge.odsF'] == pytest.approx(100)
    assert metrics['depth.rmse'] == pytest.approx(0)
    out_dir = osp.join(runner.work_dir, runner.timestamp, 'vis')
    files = sorted(os.listdir(out_dir))
    assert files == ['scene_0.png', 'scene_1.png', 'scene_2.png']
    picture = cv2.imread(osp.join(out_dir, 'scene_1.png'))
    vis = runner.visualizer
    assert picture.shape == (2 * (vis.title_height + H + vis.bar_height),
                             7 * W, 3)


def test_hook_in_val_loop_uses_interval_and_backends(tmp_path):
    init_default_scope('mmseg')
    data_root = tmp_path / 'data'
    data_root.mkdir()
    runner = Runner(
        model=CopyGroundTruth(),
        work_dir=str(tmp_path / 'work'),
        val_dataloader=dict(
            dataset=TinyScenes(str(data_root)),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=1,
            num_workers=0),
        val_cfg=dict(type='ValLoop'),
        val_evaluator=dict(type='MultiTaskMetric', tasks=['semseg', 'depth']),
        default_hooks=dict(visualization=dict(
            type='MultiTaskVisualizationHook', draw=True, interval=2)),
        visualizer=dict(type='MultiTaskLocalVisualizer',
                        name='mt_vis_val_runner',
                        vis_backends=[dict(type='LocalVisBackend')]),
        default_scope='mmseg')
    metrics = runner.val()
    assert metrics['semseg.mIoU'] == pytest.approx(100)
    image_dir = osp.join(runner.log_dir, 'vis_data', 'vis_image')
    # batches 0, 1, 2 with interval 2: only the second one is drawn
    assert os.listdir(image_dir) == ['val_scene_1.png_0.png']
