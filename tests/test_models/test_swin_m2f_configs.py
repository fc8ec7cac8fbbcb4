"""The released-architecture configs (configs/{mtcp,baseline}/*swin-s-m2f*):
each trains with the real Runner at its own input size (480x640 NYUD-v2,
512x512 PASCAL-Context) on files in the real data set formats, with the
trunk and head narrowed here (tests/_helpers/tiny_mask2former.py widths);
the configs themselves keep the released widths."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import MODELS

from dataset_files import write_nyud_atrc, write_pascal
from tiny_mask2former import C, neck_cfg, swin_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'mtcp', '*swin-s-m2f*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'baseline', '*swin-s-m2f*.py')))
RELEASE_TASKS = {
    'nyud': ['semseg', 'depth', 'normals'],
    'nyud-4task': ['semseg', 'depth', 'normals', 'edge'],
    'pascal': ['semseg', 'human_parts', 'saliency'],
    'pascal-5task': ['semseg', 'human_parts', 'saliency', 'normals', 'edge'],
}


def _variant(path):
    return osp.basename(path)[:-3].split('swin-s-m2f_')[1]


def test_every_variant_has_mtcp_and_baseline():
    names = sorted(osp.relpath(c, ROOT) for c in CONFIGS)
    assert names == sorted(
        [f'configs/mtcp/mtcp_swin-s-m2f_{v}.py' for v in RELEASE_TASKS] +
        [f'configs/baseline/mt_baseline_swin-s-m2f_{v}.py'
         for v in RELEASE_TASKS])


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.basename(c) for c in CONFIGS])
def test_released_recipe_and_widths(path):
    cfg = Config.fromfile(path)
    tasks = RELEASE_TASKS[_variant(path)]
    head = cfg.model.decode_head
    assert head.tasks == tasks
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.tasks == tasks
    assert cfg.val_evaluator.tasks == cfg.test_evaluator.tasks == tasks
    # the release's recipe: AdamW 5e-5 / 1e-4, poly per epoch, 100 epochs,
    # batch 2, losses summed (no balancer)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 5e-5, 1e-4)
    sched = cfg.param_scheduler[0]
    assert (sched.type, sched.by_epoch, sched.end) == ('PolyLR', True, 100)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size == 2
    assert not [h for h in cfg.get('custom_hooks', [])
                if h.type == 'TaskBalanceHook']
    # the released widths: Swin-S, 256-channel shared map and decoders
    assert cfg.model.backbone.depths == [2, 2, 18, 2]
    assert cfg.model.neck.type == 'Mask2FormerSharedRepresentation'
    assert head.in_channels == [256] and head.decoder.embed_dims == 256
    assert head.decoder.type == 'SwinTaskDecoder'
    is_mtcp = '/mtcp/' in path
    assert head.type == ('MTCPHead' if is_mtcp else 'MultiTaskBaselineHead')
    if is_mtcp:
        assert head.refine == 'reference' and head.cfm.attn_scale == 1.0
    else:
        assert not {'cfm', 'srm', 'trace_levels', 'refine'} & set(head)
    if 'edge' in tasks:
        assert head.loss_decode.edge.loss_weight == 50.0
    if 'normals' in tasks:
        assert head.loss_decode.normals.p == 2
        assert head.side_loss_decode.normals.p == 1
    else:
        assert not head.get('loss_decode') and \
            not head.get('side_loss_decode')


@pytest.mark.parametrize('variant', sorted(RELEASE_TASKS))
def test_builds_at_the_released_widths(variant):
    """Both heads of a variant build at full width (no weights are loaded:
    ``init_weights`` is not called), and the baseline's every weight is one
    of MT-CP's with its shape, so that one seed starts both alike."""
    built = {}
    for method, folder in (('mtcp', 'mtcp'), ('mt_baseline', 'baseline')):
        cfg = Config.fromfile(
            osp.join(ROOT, 'configs', folder,
                     f'{method}_swin-s-m2f_{variant}.py'))
        model = MODELS.build(cfg.model)
        built[method] = {k: tuple(v.shape)
                         for k, v in model.state_dict().items()}
    assert built['mtcp']['backbone.stages.2.blocks.17.attn.w_msa.'
                         'relative_position_bias_table'] == (169, 12)
    assert built['mtcp']['neck.query_feat.weight'] == (100, 256)
    shared = {k: built['mtcp'].get(k) for k in built['mt_baseline']}
    assert shared == built['mt_baseline']
    assert any(k.startswith('decode_head.cfm') for k in built['mtcp'])


def _tiny_train_cfg(path, data_root, work_dir):
    """The config at tiny widths, one training iteration, no evaluation."""
    cfg = Config.fromfile(path)
    cfg.model.backbone = swin_cfg()
    cfg.model.neck = neck_cfg()
    head = cfg.model.decode_head
    head.in_channels = [C]
    head.channels = C
    head.decoder.embed_dims = C
    cfg.model.data_preprocessor.seg_pad_val = 255
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.batch_size = 1
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.pop('visualization', None)
    cfg.log_level = 'WARNING'
    cfg.work_dir = work_dir
    return cfg


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.basename(c) for c in CONFIGS])
def test_trains_at_the_released_input_size(path, tmp_path):
    variant = _variant(path)
    data_root = str(tmp_path / 'data')
    if variant.startswith('nyud'):
        write_nyud_atrc(data_root)
        size = (480, 640)
    else:
        write_pascal(data_root)
        size = (512, 512)
    cfg = _tiny_train_cfg(path, data_root, str(tmp_path / 'work'))
    if '/mtcp/' in path and variant.endswith('task'):
        # the 3-task variants run the full HW x HW affinity; with 4 and 5
        # tasks the CFMs pool their keys by 2 here, to keep the suite fast
        cfg.model.decode_head.cfm.attn_downsample = 2
    runner = Runner.from_cfg(cfg)
    model = runner.model
    seen = {}

    def see_input(_module, args):
        seen.setdefault('input', tuple(args[0].shape))

    model.backbone.register_forward_pre_hook(see_input)
    losses = {}
    head_loss = model.decode_head.loss_by_feat

    def record(*args, **kwargs):
        out = head_loss(*args, **kwargs)
        losses.update({k: float(v.detach()) for k, v in out.items()})
        return out

    model.decode_head.loss_by_feat = record
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    runner.train()
    assert seen['input'] == (1, 3) + size
    tasks = RELEASE_TASKS[variant]
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    side = [k for k in losses if '_aux' in k]
    assert sorted(set(losses) - set(side)) == sorted(
        f'loss_{task}' for task in tasks)
    # MT-CP: the trace-back's two intermediate predictions per task
    assert len(side) == (2 * len(tasks) if '/mtcp/' in path else 0)
    # backward reached every weight: trunk, decoders, CFM/trace-back, outputs
    unchanged = [n for n, p in model.named_parameters()
                 if torch.equal(p.detach(), before[n])]
    assert not unchanged, unchanged
