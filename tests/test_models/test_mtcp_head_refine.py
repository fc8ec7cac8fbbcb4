"""MTCPHead's final prediction: the gated refinement of the decoder's own
prediction (default) and the reference wiring, both built from config."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmseg.registry import MODELS
from test_multi_task_segmentor import NYUD, make_batch, tiny_model

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _feats_and_head(model, data):
    x = model.extract_feat(data['inputs'])
    return x, model.decode_head


def test_gated_head_starts_as_the_direct_decoder_prediction():
    torch.manual_seed(0)
    model = tiny_model(NYUD).train()
    data = model.data_preprocessor(make_batch(NYUD, [(64, 64)] * 2), True)
    x, head = _feats_and_head(model, data)
    assert head.refine == 'gated'
    out = head(x, with_side=True)
    decoded = head.decode(x)
    for task in NYUD:
        assert torch.all(head.gates[task] == 0)
        direct = head.outputs[task](decoded[task][0])
        torch.testing.assert_close(out['preds'][task], direct)
        assert len(out['side_preds'][task]) == 2


def test_gated_head_gradients_skip_path_and_gate():
    torch.manual_seed(0)
    model = tiny_model(NYUD).train()
    head = model.decode_head
    data = model.data_preprocessor(make_batch(NYUD, [(64, 64)] * 2), True)
    # main outputs only: at a zero gate the branch gets no gradient, the
    # decoder (skip path) and the gate do
    x = model.extract_feat(data['inputs'])
    preds = head(x, with_side=False)['preds']
    sum(p.square().mean() for p in preds.values()).backward()
    for task in NYUD:
        assert head.gates[task].grad.abs().sum() > 0
        assert sum(p.grad.abs().sum() for p in
                   head.decoders[task].parameters()) > 0
        branch = list(head.cfms[task].parameters()) + list(
            head.srms[task].parameters())
        assert all(p.grad is None or p.grad.abs().sum() == 0
                   for p in branch), task
    # once the gate is open the cross-task branch learns from the output
    model.zero_grad()
    with torch.no_grad():
        for gate in head.gates.values():
            gate.fill_(0.5)
    x = model.extract_feat(data['inputs'])
    preds = head(x, with_side=False)['preds']
    sum(p.square().mean() for p in preds.values()).backward()
    for task in NYUD:
        assert sum(p.grad.abs().sum()
                   for p in head.cfms[task].parameters()) > 0
        assert sum(p.grad.abs().sum()
                   for p in head.srms[task].steps[-1].parameters()) > 0
    # with side losses the branch trains from the start
    model.zero_grad()
    with torch.no_grad():
        for gate in head.gates.values():
            gate.zero_()
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    for task in NYUD:
        assert sum(p.grad.abs().sum()
                   for p in head.cfms[task].parameters()) > 0


def test_reference_wiring_predicts_from_the_trace_back_only():
    torch.manual_seed(0)
    model = tiny_model(NYUD, refine='reference').train()
    head = model.decode_head
    assert head.gates is None
    assert not any('gates' in n and n.startswith('gates')
                   for n, _ in head.named_parameters())
    data = model.data_preprocessor(make_batch(NYUD, [(64, 64)] * 2), True)
    x = model.extract_feat(data['inputs'])
    preds = head(x, with_side=False)['preds']
    decoded = head.decode(x)
    for task in NYUD:
        direct = head.outputs[task](decoded[task][0])
        assert not torch.allclose(preds[task], direct)
    sum(p.square().mean() for p in preds.values()).backward()
    for task in NYUD:
        # the output reads the trace-back's finest step, through the CFM
        assert sum(p.grad.abs().sum()
                   for p in head.srms[task].steps[-1].parameters()) > 0
        assert sum(p.grad.abs().sum()
                   for p in head.cfms[task].parameters()) > 0


def test_both_forms_build_from_the_demo_config():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py'))
    gated = MODELS.build(cfg.model)
    assert gated.decode_head.refine == 'gated'
    assert set(gated.decode_head.gates) == set(gated.tasks)
    cfg.merge_from_dict({'model.decode_head.refine': 'reference'})
    reference = MODELS.build(cfg.model)
    assert reference.decode_head.refine == 'reference'
    n_gated = sum(p.numel() for p in gated.parameters())
    n_ref = sum(p.numel() for p in reference.parameters())
    assert n_gated - n_ref == len(gated.tasks) * gated.decode_head.channels


def test_trace_levels_zero_and_bad_refine():
    torch.manual_seed(0)
    model = tiny_model(NYUD, trace_levels=0).train()
    assert model.decode_head.srms is None
    data = model.data_preprocessor(make_batch(NYUD, [(64, 64)] * 2), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {f'loss_{t}' for t in NYUD}
    with pytest.raises(ValueError, match='decode_head.refine'):
        tiny_model(NYUD, refine='skip')
    with pytest.raises(ValueError, match='decode_head.trace_levels'):
        tiny_model(NYUD, trace_levels=5)


def test_detach_branch_keeps_the_trunk_gradient_of_the_baseline():
    torch.manual_seed(0)
    model = tiny_model(NYUD, detach_branch=True).train()
    head = model.decode_head
    with torch.no_grad():
        for gate in head.gates.values():
            gate.fill_(0.5)
    data = model.data_preprocessor(make_batch(NYUD, [(64, 64)] * 2), True)
    losses = model(**data, mode='loss')
    # side losses reach the branch but not the decoders or the backbone
    sum(v for k, v in losses.items() if '_aux' in k).backward()
    for task in NYUD:
        assert sum(p.grad.abs().sum()
                   for p in head.cfms[task].parameters()) > 0
        assert all(p.grad is None or p.grad.abs().sum() == 0
                   for p in head.decoders[task].parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0
               for p in model.backbone.parameters())
