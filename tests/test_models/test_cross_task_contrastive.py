"""The cross-task contrastive regularizer on hand-made label maps."""
import math

import pytest
import torch
from mmengine.structures import PixelData

from mmseg.structures import SegDataSample
from mmmtcp.models.regularizers import CrossTaskContrastiveRegularizer
from mmmtcp.tasks import boundary_regions


def _sample(**fields):
    sample = SegDataSample()
    for name, value in fields.items():
        sample.set_data({name: PixelData(data=value)})
    return sample


def _reg(**kwargs):
    cfg = dict(
        tasks=['semseg', 'depth', 'normals', 'edge', 'saliency'],
        in_channels=8,
        embed_channels=4,
        hidden_channels=8,
        num_samples=64,
        min_valid=4)
    cfg.update(kwargs)
    return CrossTaskContrastiveRegularizer(**cfg)


def test_positive_masks_per_source_kind():
    reg = _reg(depth_threshold=0.1, normal_threshold=15)
    labels = torch.tensor([[1.], [1.], [2.], [7.]])
    assert reg.positive_mask('semseg', labels).tolist() == [
        [True, True, False, False], [True, True, False, False],
        [False, False, True, False], [False, False, False, True]
    ]
    depth = torch.tensor([[1.0], [1.05], [1.5], [3.0]])
    pos = reg.positive_mask('depth', depth)
    # |1.0-1.05|/1.05 < 0.1 ; |1.0-1.5|/1.5 > 0.1
    assert pos[0, 1] and pos[1, 0] and not pos[0, 2] and not pos[2, 3]
    a = math.radians(10)
    b = math.radians(20)
    normals = torch.tensor([[0., 0., 1.], [0., math.sin(a), math.cos(a)],
                            [0., math.sin(b), math.cos(b)]])
    pos = reg.positive_mask('normals', normals)
    assert pos[0, 1] and not pos[0, 2] and pos[1, 2]
    sal = torch.tensor([[0.], [1.], [1.]])
    assert reg.positive_mask('saliency', sal).tolist() == [
        [True, False, False], [False, True, True], [False, True, True]
    ]


def test_edge_source_uses_regions_between_boundaries():
    edge = torch.zeros(1, 6, 6, dtype=torch.long)
    edge[0, :, 3] = 1  # a vertical boundary splits the image in two
    edge[0, 0, 0] = 255
    regions = boundary_regions(edge)[0]
    assert (regions[:, 3] == 255).all() and regions[0, 0] == 255
    assert len(set(regions[:, :3].flatten().tolist()) - {255}) == 1
    assert regions[1, 0] == regions[5, 2]
    assert regions[1, 0] != regions[1, 5]
    # the regularizer samples the regions, not the boundary pixels
    sample = _sample(gt_edge_map=edge)
    values, valid = _reg()._source_labels('edge', [sample], (6, 6))
    assert torch.equal(values[0], regions[None].float())
    assert torch.equal(valid[0], regions != 255)


def test_invalid_pixels_are_never_sampled_and_empty_gives_zero():
    reg = _reg(tasks=['semseg', 'depth'], min_valid=4)
    feats = {
        'semseg': torch.randn(1, 8, 4, 4, requires_grad=True),
        'depth': torch.randn(1, 8, 4, 4, requires_grad=True)
    }
    depth = torch.zeros(1, 4, 4)
    depth[0, 0, :2] = 1.0  # only two valid depth pixels: below min_valid
    seg = torch.full((1, 4, 4), 255, dtype=torch.long)
    sample = _sample(gt_sem_seg=seg, gt_depth_map=depth)
    losses = reg.loss(feats, [sample])
    assert set(losses) == {'loss_contrast_semseg', 'loss_contrast_depth'}
    for value in losses.values():
        assert torch.isfinite(value) and value.item() == 0
    _, valid = reg._source_labels('depth', [sample], (4, 4))
    assert valid.sum() == 2
    _, valid = reg._source_labels('semseg', [sample], (4, 4))
    assert valid.sum() == 0


def _two_region_sample(size=8):
    seg = torch.zeros(1, size, size, dtype=torch.long)
    seg[0, :, size // 2:] = 3
    seg[0, 0, 0] = 255
    depth = torch.ones(1, size, size)
    depth[0, :, size // 2:] = 4.0
    return _sample(gt_sem_seg=seg, gt_depth_map=depth)


@pytest.mark.parametrize('loss_type', ['triplet', 'infonce'])
def test_gradient_reaches_target_features(loss_type):
    reg = _reg(tasks=['semseg', 'depth'], loss_type=loss_type)
    feats = {
        t: torch.randn(2, 8, 8, 8, requires_grad=True)
        for t in ('semseg', 'depth')
    }
    losses = reg.loss(feats, [_two_region_sample(), _two_region_sample()])
    total = sum(losses.values())
    assert total.item() > 0
    total.backward()
    for t in ('semseg', 'depth'):
        assert feats[t].grad is not None and feats[t].grad.abs().sum() > 0
    used = [p.grad is not None and p.grad.abs().sum() > 0
            for p in reg.parameters()]
    assert any(used)


def test_draws_are_reproducible_and_vary_over_iterations():
    reg_a = _reg(seed=3)
    reg_b = _reg(seed=3)
    draws = [reg_a.draw_sources(i) for i in range(20)]
    assert draws == [reg_b.draw_sources(i) for i in range(20)]
    for draw in draws:
        for target, source in draw.items():
            assert source != target and source in reg_a.pairs[target]
    assert len({tuple(sorted(d.items())) for d in draws}) > 1

    torch.manual_seed(0)
    feats = {t: torch.randn(1, 8, 8, 8) for t in ('semseg', 'depth')}
    reg_c = _reg(tasks=['semseg', 'depth'], seed=1)
    reg_d = _reg(tasks=['semseg', 'depth'], seed=1)
    reg_d.load_state_dict(reg_c.state_dict())
    la = reg_c.loss(feats, [_two_region_sample()])
    lb = reg_d.loss(feats, [_two_region_sample()])
    for k in la:
        assert torch.equal(la[k], lb[k])


def test_bad_config_names_the_key():
    with pytest.raises(ValueError, match='regularizer.tasks'):
        _reg(tasks=['semseg', 'depthh'])
    with pytest.raises(ValueError, match='regularizer.pairs.semseg'):
        _reg(tasks=['semseg', 'depth'], pairs=dict(semseg=['semseg']))
