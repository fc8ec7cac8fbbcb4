"""Command-line overrides of tools/train.py and tools/test.py."""
import os.path as osp

import pytest
import torch

from tool_runs import ROOT, load_tool

DEMO = osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py')


def test_train_options():
    train = load_tool('train')
    cfg = train.build_config(
        train.parse_args([DEMO, '--resume', '--cfg-options',
                          'train_cfg.max_iters=7']))
    assert cfg.work_dir == osp.join('./work_dirs', 'mtcp_demo_synthetic')
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.train_cfg.max_iters == 7
    cfg = train.build_config(
        train.parse_args([DEMO, '--resume', 'x.pth', '--work-dir', 'w']))
    assert cfg.load_from == 'x.pth' and cfg.work_dir == 'w'


def test_amp_option():
    train = load_tool('train')
    args = train.parse_args([DEMO, '--amp'])
    if torch.cuda.is_available():
        cfg = train.build_config(args)
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    else:
        # refused before anything is built, with the reason
        with pytest.raises(SystemExit, match='--amp needs a GPU'):
            train.build_config(args)


def test_test_options(tmp_path):
    test = load_tool('test')
    cfg = test.build_config(
        test.parse_args([DEMO, 'c.pth', '--show-dir', 'vis', '--out', 'o']))
    assert cfg.load_from == 'c.pth' and cfg.resume is False
    assert cfg.default_hooks.visualization.draw is True
    assert cfg.visualizer.save_dir == 'vis'
    assert cfg.test_evaluator.output_dir == 'o'

    no_hook = tmp_path / 'no_hook.py'
    no_hook.write_text(f'_base_ = [{DEMO!r}]\n'
                       'default_hooks = dict(_delete_=True)\n')
    with pytest.raises(RuntimeError, match='default_hooks.visualization'):
        test.build_config(
            test.parse_args([str(no_hook), 'c.pth', '--show-dir', 'vis']))


def test_cfg_options_keep_a_path_with_spaces(tmp_path, capsys):
    """``--cfg-options`` values with spaces are used as typed (mmengine's
    DictAction removed the spaces: ``/tmp/a b/c`` became ``/tmp/ab/c``,
    used silently when it existed); what cannot be kept is refused."""
    spaced = tmp_path / 'a b' / 'c'
    squeezed = tmp_path / 'ab' / 'c'
    spaced.mkdir(parents=True)
    squeezed.mkdir(parents=True)
    train, test = load_tool('train'), load_tool('test')
    cfg = train.build_config(train.parse_args([
        DEMO, '--cfg-options', f'train_dataloader.dataset.data_root={spaced}',
        'train_cfg.max_iters=7', 'extra_tasks=[semseg, depth]',
        f"work_dir='{tmp_path}/w x'"
    ]))
    assert cfg.train_dataloader.dataset.data_root == str(spaced)
    assert cfg.train_cfg.max_iters == 7
    assert cfg.extra_tasks == ['semseg', 'depth']
    assert cfg.work_dir == f'{tmp_path}/w x'
    cfg = test.build_config(test.parse_args([
        DEMO, 'c.pth', '--cfg-options',
        f'test_dataloader.dataset.data_root={spaced}'
    ]))
    assert cfg.test_dataloader.dataset.data_root == str(spaced)
    evaluate = load_tool('analysis_tools/eval_predictions')
    args = evaluate.parse_args([
        DEMO, 'preds', '--cfg-options',
        f'test_dataloader.dataset.data_root={spaced}'
    ])
    assert args.cfg_options == {
        'test_dataloader.dataset.data_root': str(spaced)
    }

    for tool, extra in ((train, []), (test, ['c.pth'])):
        with pytest.raises(SystemExit):
            tool.parse_args(
                [DEMO, *extra, '--cfg-options', 'model.x=[a b, c]'])
        err = capsys.readouterr().err
        assert "--cfg-options: model.x='[a b, c]'" in err
        assert 'set the value in a config file' in err
        with pytest.raises(SystemExit):
            tool.parse_args([DEMO, *extra, '--cfg-options', 'novalue'])
        assert "--cfg-options: 'novalue' is not KEY=VALUE" in \
            capsys.readouterr().err
