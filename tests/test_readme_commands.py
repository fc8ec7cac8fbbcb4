"""Every command of the README is run somewhere: each line of its ``bash``
blocks is listed here with the test that runs it (or the demo, ``make
demo``, or CI's ``make test``), so a command added to the README without a
test fails this file. The headline training command is also run as typed,
in a fresh shell through the README's environment, on a machine without the
data set: it must end in the error that says how to prepare it."""
import os
import os.path as osp
import re
import subprocess

import pytest

from tool_runs import ROOT

TESTS = osp.join(ROOT, 'tests')

#: README command -> where it runs: ``path::test`` (relative to tests/),
#: ``'make demo'`` (the demo's study) or ``'make test'`` (CI).
COVERED = {
    'make demo': 'make demo',
    'make test': 'make test',
    'make env': 'test_readme_commands.py::test_headline_command_without_data',
    'source .venv/bin/activate':
    'test_tools/test_readme_environment.py::'
    'test_activate_then_tools_run_as_written',
    'python tools/train.py configs/mtcp/mtcp_demo_synthetic.py': 'make demo',
    # the study in the pretrained regime: the trunk, the learning curve
    'TRUNK=$(python tools/pretrain_trunk.py':
    'test_tools/test_pretrain_trunk.py::test_trunk_holds_the_backbone_only',
    'python tools/train.py configs/baseline/mt_baseline_demo_synthetic.py':
    'test_tools/test_demo.py::test_demo_end_to_end',
    'python tools/analysis_tools/compare_methods.py':
    'test_tools/test_compare_methods.py::test_tool_trains_tests_and_resumes',
    'python tools/train.py configs/mtcp/mtcp_vitl_nyud.py':
    'test_readme_commands.py::test_headline_command_without_data',
    'python tools/train.py CONFIG --work-dir work_dirs/x --amp --resume':
    'test_tools/test_train_test_tools.py::'
    'test_resume_continues_from_checkpoint',
    'bash tools/dist_train.sh configs/mtcp/mtcp_vitl_nyud.py 8':
    'test_tools/test_dist_train.py::test_dist_train_sh_on_cpu',
    'python tools/test.py CONFIG CHECKPOINT':
    'test_tools/test_train_test_tools.py::'
    'test_test_tool_writes_metrics_pictures_and_predictions',
    'python tools/test.py CONFIG CHECKPOINT --show-dir vis --out preds':
    'test_tools/test_train_test_tools.py::'
    'test_test_tool_writes_metrics_pictures_and_predictions',
    'python tools/infer.py CONFIG CHECKPOINT my_images/ --out-dir vis':
    'test_tools/test_infer.py::test_infer_tool_writes_a_picture_per_image',
    'python tools/get_flops.py CONFIG --shape 480 640':
    'test_tools/test_get_flops.py::test_cli_prints_summary',
    'python tools/dataset_converters/nyud.py NYUDv2.tar.gz -o data/NYUDv2':
    'test_tools/test_dataset_converters.py::test_nyud_archive_to_data_root',
    'python tools/dataset_converters/pascal_context.py PASCALContext.tar.gz '
    '-o data/PASCALContext':
    'test_tools/test_dataset_converters.py::test_pascal_zip_and_check',
    'python tools/dataset_converters/nyud.py --check data/NYUDv2':
    'test_tools/test_dataset_converters.py::'
    'test_nyud_check_names_bad_files',
    # reproducing the paper: the released architecture's configs (trained
    # at tiny widths by test_models/test_swin_m2f_configs.py)
    'python tools/model_converters/hf_mask2former2mmmtcp.py':
    'test_tools/test_hf_mask2former_converter.py::'
    'test_command_line_on_the_downloaded_folder',
    'python tools/train.py configs/mtcp/mtcp_swin-s-m2f_nyud.py':
    'test_readme_commands.py::test_reproduction_commands_without_data',
    'python tools/test.py configs/mtcp/mtcp_swin-s-m2f_nyud.py':
    'test_readme_commands.py::test_reproduction_commands_without_data',
    'python tools/train.py configs/baseline/mt_baseline_swin-s-m2f_nyud.py':
    'test_readme_commands.py::test_reproduction_commands_without_data',
    'python tools/test.py configs/baseline/mt_baseline_swin-s-m2f_nyud.py':
    'test_readme_commands.py::test_reproduction_commands_without_data',
}


def readme_commands():
    """The command lines of the README's ``bash`` blocks, comments and
    continuation lines folded, each cut to its longest ``COVERED`` key."""
    with open(osp.join(ROOT, 'README.md')) as f:
        text = f.read()
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', text, flags=re.S):
        joined = re.sub(r'\\\n\s*', ' ', block)
        for line in joined.splitlines():
            line = line.split(' #')[0].strip()
            if line and not line.startswith('#'):
                commands.append(' '.join(line.split()))
    return commands


def _where(command: str):
    keys = [k for k in COVERED if command == k or command.startswith(k + ' ')]
    return COVERED[max(keys, key=len)] if keys else None


def test_every_readme_command_is_run_somewhere():
    commands = readme_commands()
    assert len(commands) >= 15
    missing = [c for c in commands if _where(c) is None]
    assert not missing, ('README commands that no test runs: add a test '
                         f'and list it in COVERED: {missing}')
    for command in commands:
        where = _where(command)
        if where in ('make demo', 'make test'):
            continue
        path, test = where.split('::')
        with open(osp.join(TESTS, path)) as f:
            assert re.search(rf'^def {test}\(', f.read(), flags=re.M), (
                f'{command!r} is said to be run by {where}, which does not '
                'exist')


@pytest.mark.skipif(not osp.exists(osp.join(ROOT, '.venv', 'bin',
                                            'activate')),
                    reason='needs the environment made by `make env`')
def test_headline_command_without_data(tmp_path):
    """``make env``, ``source .venv/bin/activate``, ``python tools/train.py
    configs/mtcp/mtcp_vitl_nyud.py`` in a fresh shell, in a checkout
    without ``data/NYUDv2``: a short error naming the layout, the converter
    and the guide (no traceback of hundreds of lines)."""
    checkout = tmp_path / 'checkout'
    checkout.mkdir()
    for entry in ('Makefile', 'tools', 'configs', 'requirements', 'mmmtcp',
                  'pyproject.toml', 'setup.py', '.venv'):
        if osp.exists(osp.join(ROOT, entry)):
            os.symlink(osp.join(ROOT, entry), checkout / entry)
    env = dict(PATH='/usr/bin:/bin', HOME=os.environ.get('HOME', '/root'),
               MMMTCP_CACHE_DIR=os.environ.get(
                   'MMMTCP_CACHE_DIR',
                   osp.join(os.environ.get('HOME', '/root'), '.cache',
                            'mmmtcp')))
    script = ('make env >/dev/null && source .venv/bin/activate && '
              'python tools/train.py configs/mtcp/mtcp_vitl_nyud.py')
    proc = subprocess.run(['bash', '-c', script],
                          cwd=str(checkout),
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=900)
    out = proc.stdout
    assert proc.returncode != 0
    assert "data_root 'data/NYUDv2' does not exist" in out, out[-3000:]
    assert 'docs/en/dataset_prepare.md' in out
    assert 'tools/dataset_converters/nyud.py NYUDv2.tar.gz -o data/NYUDv2' \
        in out
    assert 'Traceback' not in out, out[-3000:]


REPRODUCTION = [c for c in readme_commands()
                if re.match(r'python tools/(train|test)\.py configs/\w+/'
                            r'\w+_swin-s-m2f_nyud\.py', c)]


@pytest.mark.skipif(not osp.exists(osp.join(ROOT, '.venv', 'bin',
                                            'python')),
                    reason='needs the environment made by `make env`')
@pytest.mark.parametrize('command', REPRODUCTION)
def test_reproduction_commands_without_data(command, tmp_path):
    """The "Reproducing the paper" commands, as typed, in a checkout without
    NYUD-v2: the error says how to prepare it, before any weights are
    downloaded."""
    assert len(REPRODUCTION) == 4
    checkout = tmp_path / 'checkout'
    checkout.mkdir()
    for entry in ('tools', 'configs', 'mmmtcp', '.venv'):
        os.symlink(osp.join(ROOT, entry), checkout / entry)
    args = command.split()
    torch_home = tmp_path / 'torch_home'
    env = dict(os.environ, TORCH_HOME=str(torch_home))
    env.pop('PYTHONPATH', None)
    proc = subprocess.run([osp.join(ROOT, '.venv', 'bin', 'python')] +
                          args[1:], cwd=str(checkout), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)
    out = proc.stdout
    assert not torch_home.exists()  # no checkpoint was fetched
    assert proc.returncode != 0
    assert "data_root 'data/NYUDv2' does not exist" in out, out[-3000:]
    assert 'tools/dataset_converters/nyud.py NYUDv2.tar.gz -o data/NYUDv2' \
        in out
    assert 'Traceback' not in out, out[-3000:]
