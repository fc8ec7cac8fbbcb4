"""The code of docs/en/add_a_task.md (sections 3 and 4) as written: its
kind (``height``) and its declared tasks (``height``, a second boundary
task ``occlusion``, a primary label task ``material``) get every behaviour
the guide lists, without any change to mmmtcp: contrastive source pixels
and positives, the colour bar, the classes, the primary task and the
coherence pairs."""
import os.path as osp
import re
import textwrap

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmmtcp.evaluation import MultiTaskMetric
from mmmtcp.models.regularizers import CrossTaskContrastiveRegularizer
from mmmtcp.models.segmentors.segmentor_config import (main_label_task,
                                                       resolve_num_classes)
from mmmtcp.registry import TASK_KINDS
from mmmtcp.tasks import check_tasks, get_task, task_spec
from mmmtcp.visualization import MultiTaskLocalVisualizer
from mmseg.structures import SegDataSample

DOC = osp.join(osp.dirname(__file__), '..', '..', 'docs', 'en',
               'add_a_task.md')
H, W = 24, 32
META = dict(
    classes=('a', 'b', 'c'),
    camera_intrinsics=dict(fx=30.0, fy=30.0, cx=16.0, cy=12.0, width=W,
                           height=H),
    normal_axes=('right', 'up', 'toward_camera'))


def doc_blocks() -> dict:
    """The python blocks of the guide, by the file named on their first
    line (``# my_kinds.py``)."""
    with open(DOC) as f:
        text = f.read()
    blocks = {}
    for indent, body in re.findall(r'^( *)```python\n(.*?)^\1```', text,
                                   re.M | re.S):
        code = textwrap.dedent(body)
        first = code.splitlines()[0]
        if first.startswith('# ') and first.endswith('.py'):
            blocks[first[2:]] = code
    return blocks


def _forget_kind(name: str) -> None:
    TASK_KINDS._module_dict.pop(name, None)
    for key in [k for k in task_spec._KIND_CACHE if k[0] == name]:
        del task_spec._KIND_CACHE[key]


@pytest.fixture
def doc():
    """The guide's kind registered (and forgotten afterwards) and the
    names its config blocks define."""
    blocks = doc_blocks()
    assert {'my_kinds.py', 'my_config.py', 'my_labels_config.py'} <= set(
        blocks)
    _forget_kind('height')
    kinds: dict = {}
    exec(compile(blocks['my_kinds.py'], 'my_kinds.py', 'exec'), kinds)
    config: dict = {}
    exec(compile(blocks['my_config.py'], 'my_config.py', 'exec'), config)
    labels: dict = {}
    exec(compile(blocks['my_labels_config.py'], 'my_labels_config.py',
                 'exec'), labels)
    config['task_names'] = check_tasks(config['tasks'], 'tasks')
    yield dict(kinds=kinds, config=config, labels=labels)
    _forget_kind('height')


def scene(seed: int = 0) -> dict:
    """Maps of a plane: two label regions split by a vertical boundary,
    heights with a NaN corner, the occlusion boundaries equal to the
    edges."""
    rng = np.random.default_rng(seed)
    seg = np.zeros((H, W), np.int64)
    seg[:, W // 2:] = 1
    edge = np.zeros((H, W), np.int64)
    edge[:, W // 2 - 1] = 1  # where thin(label borders) puts it
    height = np.where(seg == 1, 1.5, 0.2) + 0.01 * rng.random((H, W))
    height[:4, :4] = np.nan
    u = (np.arange(W) - 16.0) / 30.0
    v = (np.arange(H) - 12.0) / 30.0
    depth = 2.0 / (1.0 + 0.2 * u[None] + 0.1 * v[:, None])
    n = np.array([0.2, -0.1, 1.0])
    normals = np.broadcast_to(n / np.linalg.norm(n), (H, W, 3)).copy()
    return dict(semseg=seg, edge=edge, occlusion=edge.copy(),
                height=height.astype(np.float32),
                depth=depth.astype(np.float32),
                normals=normals.astype(np.float32))


def make_sample(maps: dict, pred: bool = True) -> SegDataSample:
    sample = SegDataSample(metainfo=dict(
        img_path='/data/images/a.png', ori_shape=(H, W), img_shape=(H, W)))
    for task, array in maps.items():
        spec = get_task(task)
        data = get_task(task).kind_impl.pack(array)
        if spec.is_label:
            data = data.long()
        sample.set_field(PixelData(data=data), spec.gt_field)
        if pred:
            value = data.float() if task in ('edge', 'occlusion') else data
            sample.set_field(PixelData(data=value), spec.pred_field)
    return sample


def test_the_kind_is_registered_and_the_tasks_declared(doc):
    kind = get_task('height').kind_impl
    assert isinstance(kind, doc['kinds']['HeightKind'])
    assert get_task('occlusion').kind == 'boundary'
    assert not get_task('occlusion').primary and get_task('edge').primary
    assert doc['config']['task_names'] == [
        'semseg', 'depth', 'normals', 'edge', 'height', 'occlusion']


def test_contrastive_sources_and_positives(doc):
    names = doc['config']['task_names']
    cfg = dict(doc['config']['model']['regularizer'])
    assert cfg.pop('type') == 'CrossTaskContrastiveRegularizer'
    # the segmentor fills in the head's tasks and feature width
    reg = CrossTaskContrastiveRegularizer(
        **cfg, tasks=names, in_channels=8, embed_channels=4,
        hidden_channels=8, num_samples=64, min_valid=4)
    # every task is a source of every other one, the new ones included
    assert reg.pairs['semseg'] == [t for t in names if t != 'semseg']
    assert 'height' in reg.pairs['occlusion']
    sample = make_sample(scene(), pred=False)
    values, valid = reg._source_labels('height', [sample], (H, W))
    assert not valid[0, :4, :4].any() and valid[0, 4:].all()
    pos = reg.positive_mask('height', torch.tensor([[0.2], [0.4], [1.5]]))
    assert pos.tolist() == [[True, True, False], [True, True, False],
                            [False, False, True]]
    # occlusion boundaries are regions, as edge: not plain 0 / 1 labels
    regions, valid = reg._source_labels('occlusion', [sample], (H, W))
    assert torch.equal(regions, reg._source_labels('edge', [sample],
                                                   (H, W))[0])
    assert not valid[0, :, W // 2 - 1].any()
    assert regions[0, 0, 0, 0] != regions[0, 0, 0, W - 1]
    torch.manual_seed(0)
    feats = {t: torch.randn(1, 8, H, W) for t in names}
    losses = reg.loss(feats, [sample])
    assert set(losses) == {f'loss_contrast_{t}' for t in names}
    assert all(torch.isfinite(v) for v in losses.values())


def test_colour_bar(doc):
    vis = MultiTaskLocalVisualizer(name='doc_vis', tasks=['height',
                                                          'occlusion'],
                                   bar_height=10, title_height=12)
    rows, cols, cell_h, _ = vis.layout((H, W), ['height', 'occlusion'])
    assert cell_h == 12 + H + 10
    assert vis.layout((H, W), ['occlusion'])[2] == 12 + H
    maps = scene()
    image = np.zeros((H, W, 3), np.uint8)
    picture = vis.draw_multitask(image, make_sample(
        dict(height=maps['height'], occlusion=maps['occlusion'])))
    lo, hi = float(np.nanmin(maps['height'])), float(np.nanmax(
        maps['height']))
    bar = vis._colour_bar(W, lo, hi, 'm')
    top = 12 + H
    # under the height panels a bar over the range of its ground truth ...
    assert np.array_equal(picture[top:top + 10, W:2 * W], bar)
    assert np.array_equal(picture[cell_h + top:cell_h + top + 10, W:2 * W],
                          bar)
    # ... drawn in the bar's colours, NaN black; none under occlusion
    panel = picture[12:12 + H, W:2 * W]
    assert np.array_equal(panel, vis.render_colour_map(maps['height'], lo,
                                                       hi))
    assert (panel[:4, :4] == 0).all()
    assert (picture[top:top + 10, 2 * W:] == picture[top, -1]).all()


def test_primary_label_task(doc):
    head = doc['labels']['model']['decode_head']
    assert resolve_num_classes(head)['num_classes'] == {
        'material': 23}
    assert get_task('material').needs_classes
    assert main_label_task(['human_parts', 'material']) == 'material'
    assert main_label_task(['semseg', 'material']) == 'semseg'


def test_coherence_pairs(doc):
    metric = MultiTaskMetric(**doc['config']['val_evaluator'])
    metric.dataset_meta = META
    maps = scene()
    metric.process(None, [make_sample(maps)])
    out = metric.evaluate(1)
    for key in ('normal_depth_angle', 'edge_seg_F', 'occlusion_seg_F'):
        assert np.isfinite(out[f'coherence.{key}'])
        assert np.isfinite(out[f'coherence_gt.{key}'])
    # the occlusion maps equal the edge maps: the same measure, the same
    # values
    assert out['coherence.occlusion_seg_F'] == out['coherence.edge_seg_F']
    assert out['coherence_gt.occlusion_seg_F'] == out[
        'coherence_gt.edge_seg_F']
    assert out['coherence_gt.edge_seg_F'] > 90
