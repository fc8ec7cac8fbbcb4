"""Behaviour that used to be chosen by task or kind names comes from the
kind or the task's declaration: a kind registered here, or a task declared
here (``register_task``), gets it as the built-in tasks do."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmmtcp.evaluation import MultiTaskMetric
from mmmtcp.evaluation.metrics.multi_task_metric import COHERENCE_MEASURES
from mmmtcp.models.regularizers import CrossTaskContrastiveRegularizer
from mmmtcp.models.segmentors.segmentor_config import (main_label_task,
                                                       needs_classes,
                                                       resolve_num_classes)
from mmmtcp.registry import TASK_KINDS
from mmmtcp.tasks import (COHERENCE_ROLES, TASKS, BaseTaskKind, DepthKind,
                          get_task, pick_task, register_task)
from mmmtcp.visualization import MultiTaskLocalVisualizer
from mmseg.structures import SegDataSample

H, W = 24, 32
META = dict(
    classes=('a', 'b'),
    camera_intrinsics=dict(fx=30.0, fy=30.0, cx=16.0, cy=12.0, width=W,
                           height=H),
    normal_axes=('right', 'up', 'toward_camera'))


@TASK_KINDS.register_module(name='test_ordinal', force=True)
class OrdinalKind(BaseTaskKind):
    """Ordered levels predicted as one logit per level."""

    name = 'test_ordinal'
    is_label = True
    needs_classes = True


@TASK_KINDS.register_module(name='test_disparity', force=True)
class DisparityKind(DepthKind):
    """Depth-like maps drawn with a colour bar in pixels."""

    name = 'test_disparity'
    colour_bar_unit = 'px'


def make_sample(maps: dict) -> SegDataSample:
    sample = SegDataSample(metainfo=dict(
        img_path='/data/images/a.png', ori_shape=(H, W), img_shape=(H, W)))
    for task, array in maps.items():
        spec = get_task(task)
        data = spec.kind_impl.pack(array)
        if spec.is_label:
            data = data.long()
        sample.set_field(PixelData(data=data), spec.gt_field)
        pred = data.float() if spec.kind == 'boundary' else data
        sample.set_field(PixelData(data=pred), spec.pred_field)
    return sample


def plane() -> dict:
    """A tilted plane seen by the camera of ``META`` (normals consistent
    with the depth), two label regions and the boundary between them."""
    n_cv = np.array([0.2, -0.3, -1.0])
    n_cv /= np.linalg.norm(n_cv)
    u = (np.arange(W) - 16.0) / 30.0
    v = (np.arange(H) - 12.0) / 30.0
    depth = -2.0 / (n_cv[0] * u[None] + n_cv[1] * v[:, None] + n_cv[2])
    normals = np.broadcast_to(n_cv * np.array([1, -1, -1]),
                              (H, W, 3)).copy()
    seg = np.zeros((H, W), np.int64)
    seg[:, W // 2:] = 1
    edge = np.zeros((H, W), np.int64)
    edge[:, W // 2 - 1] = 1
    return dict(depth=depth.astype(np.float32),
                normals=normals.astype(np.float32), semseg=seg, edge=edge)


# ------------------------------------------------------------- classes
def test_needs_classes_is_a_kind_property():
    spec = register_task(dict(name='level', kind='test_ordinal'))
    assert spec.needs_classes and needs_classes('level')
    assert spec.kind_impl.out_channels(5) == 5
    with pytest.raises(ValueError, match='a test_ordinal task needs its '
                       'number of classes'):
        spec.kind_impl.out_channels(None)
    assert not get_task('depth').needs_classes
    assert not get_task('saliency').needs_classes
    # the only task that needs classes takes an int num_classes
    head = dict(tasks=['depth', dict(name='level', kind='test_ordinal')],
                num_classes=4)
    assert resolve_num_classes(head)['num_classes'] == {
        'level': 4}


# ------------------------------------------------------------- primary
def test_the_primary_task_is_declared():
    register_task(dict(name='material', kind='label',
                       classes_key='material_classes', primary=True))
    register_task(dict(name='ground', kind='label',
                       classes_key='ground_classes'))
    assert main_label_task(['human_parts', 'material']) == 'material'
    assert main_label_task(['ground', 'material']) == 'material'
    assert main_label_task(['material', 'semseg']) == 'material'
    assert main_label_task(['human_parts', 'ground']) is None
    assert main_label_task(['ground', 'depth']) == 'ground'
    head = dict(tasks=['human_parts', 'ground'], num_classes=3)
    with pytest.raises(ValueError, match='several label tasks'):
        resolve_num_classes(head)
    assert pick_task(['ground', 'human_parts']) == 'ground'
    assert pick_task(['human_parts', 'semseg']) == 'semseg'
    assert pick_task([]) is None


# --------------------------------------------------------- contrastive
def _reg(tasks, **kwargs):
    return CrossTaskContrastiveRegularizer(
        tasks=tasks, in_channels=8, embed_channels=4, hidden_channels=8,
        num_samples=64, min_valid=4, **kwargs)


def test_a_declared_boundary_task_contrasts_regions():
    register_task(dict(name='occlusion', kind='boundary'))
    edge = plane()['edge']
    sample = make_sample(dict(edge=edge, occlusion=edge))
    reg = _reg(['edge', 'occlusion', 'semseg'])
    regions, valid = reg._source_labels('occlusion', [sample], (H, W))
    assert torch.equal(regions, reg._source_labels('edge', [sample],
                                                   (H, W))[0])
    # two regions, not the 0 / 1 labels of the map
    assert len(set(regions[:, 0][valid].tolist())) == 2
    assert not valid[0, :, W // 2 - 1].any()


def test_a_new_kind_decides_validity_and_positives():
    register_task(dict(name='disparity', kind='test_disparity'))
    reg = _reg(['semseg', 'disparity'], depth_threshold=0.3)
    gt = torch.tensor([[[0.0, 1.0], [1.2, 3.0]]])
    sample = SegDataSample()
    sample.set_field(PixelData(data=gt), get_task('disparity').gt_field)
    values, valid = reg._source_labels('disparity', [sample], (2, 2))
    assert valid.tolist() == [[[False, True], [True, True]]]
    pos = reg.positive_mask('disparity', torch.tensor([[1.0], [1.2], [3.]]))
    assert pos.tolist() == [[True, True, False], [True, True, False],
                            [False, False, True]]


def test_kinds_without_contrast_targets_are_targets_only():
    register_task(dict(name='albedo', kind='regression', channels=3))
    assert not get_task('albedo').kind_impl.supports('contrast_targets')
    assert get_task('edge').kind_impl.supports('contrast_targets')
    assert get_task('albedo').kind_impl.supports('resize')
    reg = _reg(['semseg', 'depth', 'albedo'])
    assert reg.pairs == dict(semseg=['depth'], depth=['semseg'],
                             albedo=['semseg', 'depth'])
    with pytest.raises(ValueError, match=r"regularizer.pairs.semseg: task "
                       r"'albedo' \(kind 'regression'\) cannot be a "
                       'contrastive source'):
        _reg(['semseg', 'albedo'], pairs=dict(semseg=['albedo']))
    register_task(dict(name='albedo2', kind='regression', channels=3))
    with pytest.raises(ValueError, match='no task can be a contrastive '
                       'source'):
        _reg(['albedo', 'albedo2'])


# ---------------------------------------------------------- colour bar
def test_a_kind_with_a_colour_bar_gets_one_with_its_own_range():
    register_task(dict(name='disparity', kind='test_disparity'))
    vis = MultiTaskLocalVisualizer(name='bar_vis', bar_height=10,
                                   title_height=12)
    assert vis.layout((H, W), ['disparity'])[2] == 12 + H + 10
    assert vis.layout((H, W), ['semseg'])[2] == 12 + H
    depth = plane()['depth']
    disparity = 100.0 / depth
    picture = vis.draw_multitask(
        np.zeros((H, W, 3), np.uint8),
        make_sample(dict(depth=depth, disparity=disparity)))
    top = 12 + H
    # each task spans its own range (a depth task does not lend its range)
    for col, values, unit in ((1, depth, 'm'), (2, disparity, 'px')):
        bar = vis._colour_bar(W, float(values.min()), float(values.max()),
                              unit)
        assert np.array_equal(picture[top:top + 10, col * W:(col + 1) * W],
                              bar)
        panel = picture[12:12 + H, col * W:(col + 1) * W]
        assert np.array_equal(panel, vis._render_depth(
            values, float(values.min()), float(values.max())))


def test_value_range_defaults_to_the_finite_values():
    kind = BaseTaskKind()
    gt = np.array([[np.nan, 2.0], [5.0, np.inf]])
    assert kind.value_range([None, gt]) == (2.0, 5.0)
    assert kind.value_range([np.full((2, 2), np.nan)]) == (0.0, 1.0)


# ----------------------------------------------------------- coherence
def _metric(tasks, **kwargs):
    metric = MultiTaskMetric(tasks=tasks, coherence=True, num_thresholds=9,
                             **kwargs)
    metric.dataset_meta = META
    return metric


def test_default_pairs_come_from_the_kinds():
    assert {r for m in COHERENCE_MEASURES.values()
            for r in m.roles} == set(COHERENCE_ROLES)
    register_task(dict(name='lidar', kind='depth'))
    register_task(dict(name='occlusion', kind='boundary'))
    assert _metric(['normals', 'lidar', 'semseg', 'occlusion'
                    ]).coherence_pairs == dict(
                        normal_depth_angle=('normal_depth_angle',
                                            ('lidar', 'normals')),
                        edge_seg_F=('edge_seg_F', ('occlusion', 'semseg')))
    # among several tasks of a role, the primary one (the built-in)
    pairs = _metric(['occlusion', 'lidar', 'depth', 'normals', 'edge',
                     'human_parts', 'semseg']).coherence_pairs
    assert pairs['normal_depth_angle'][1] == ('depth', 'normals')
    assert pairs['edge_seg_F'][1] == ('edge', 'semseg')
    # and a declared primary task of a role without a built-in one
    register_task(dict(name='contour', kind='boundary', primary=True))
    assert _metric(['occlusion', 'contour', 'human_parts']).coherence_pairs[
        'edge_seg_F'][1] == ('contour', 'human_parts')
    assert _metric(['semseg', 'saliency']).coherence_pairs == {}


def test_a_declared_pair_is_measured_under_its_name():
    register_task(dict(name='lidar', kind='depth'))
    maps = plane()
    maps['lidar'] = maps['depth']
    # the order of a pair does not matter
    metric = _metric(['depth', 'lidar', 'normals'], coherence_pairs=dict(
        lidar_normals=('normals', 'lidar'),
        normal_depth_angle=('depth', 'normals')))
    metric.process(None, [make_sample(maps)])
    out = metric.evaluate(1)
    assert out['coherence.lidar_normals'] == out[
        'coherence.normal_depth_angle'] < 1
    assert out['coherence_gt.lidar_normals'] == out[
        'coherence_gt.normal_depth_angle']


def test_bad_pairs_name_the_config_key():
    with pytest.raises(ValueError, match=r"coherence_pairs.x: tasks "
                       r"\['depth', 'semseg'\] have the coherence roles"):
        _metric(['depth', 'semseg'], coherence_pairs=dict(x=('depth',
                                                              'semseg')))
    with pytest.raises(ValueError, match=r"coherence_pairs.x names "
                       r"\['edge'\]"):
        _metric(['depth', 'normals'], coherence_pairs=dict(x=('edge',
                                                              'depth')))
    with pytest.raises(ValueError, match='coherence_pairs.x must be two '
                       'task names'):
        _metric(['depth', 'normals'], coherence_pairs=dict(x='depth'))


def test_declarations_do_not_leak():
    assert 'lidar' not in TASKS and 'occlusion' not in TASKS
