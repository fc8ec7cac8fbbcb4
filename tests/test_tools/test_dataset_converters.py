"""``tools/dataset_converters/{nyud,pascal_context}.py``: a release archive
(or folder) is put in place safely and a prepared folder is checked; and the
data sets' errors about missing data point to the preparation guide."""
import hashlib
import importlib.util
import io
import os
import os.path as osp
import re
import tarfile
import zipfile

import cv2
import numpy as np
import pytest
from tool_runs import ROOT, run

from mmmtcp.datasets import (NYUDv2Dataset, PascalContextMTDataset,
                             generate_scenes)

TOOLS = osp.join(ROOT, 'tools', 'dataset_converters')
GUIDE = osp.join(ROOT, 'docs', 'en', 'dataset_prepare.md')


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def nyud_tool():
    return _load(osp.join(TOOLS, 'nyud.py'), 'nyud_converter')


@pytest.fixture(scope='module')
def pascal_tool():
    return _load(osp.join(TOOLS, 'pascal_context.py'), 'pascal_converter')


def _write_pascal(root: str) -> None:
    """The tiny PASCAL-Context tree of the data set tests, both splits."""
    writer = _load(
        osp.join(ROOT, 'tests', '_helpers', 'dataset_files.py'),
        'pascal_tree_writer')
    writer.write_pascal(root, 'train')
    writer.write_pascal(root, 'val')


def _nyud_release(tmp_path) -> str:
    """A small NYUD-v2 tree in the release layout (3 train, 2 val)."""
    root = str(tmp_path / 'release' / 'NYUDv2')
    generate_scenes(root, 3, 2, height=24, width=32, seed=1)
    return root


def _tar_gz(folder: str, archive: str) -> str:
    """Pack ``folder`` with its name as the single top-level folder."""
    with tarfile.open(archive, 'w:gz') as tf:
        tf.add(folder, arcname=osp.basename(folder))
    return archive


def test_nyud_archive_to_data_root(tmp_path, nyud_tool, capsys):
    release = _nyud_release(tmp_path)
    archive = _tar_gz(release, str(tmp_path / 'NYUDv2.tar.gz'))
    proc = run([osp.join(TOOLS, 'nyud.py'), archive, '-o', 'data/NYUDv2'],
               cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    # the archive's SHA-256, the summary table and the verdict
    with open(archive, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert re.search(r'SHA-256: ([0-9a-f]{64})', proc.stdout).group(1) == \
        digest
    assert re.search(r'split\s+ids\s+release\s+read\s+image\s+semseg\s+'
                     r'depth\s+normals\s+edge\s+status', proc.stdout)
    assert re.search(r'train\s+3\s+795\s+3\s+ok', proc.stdout)
    assert 'OK: ' in proc.stdout
    # only the data set was left in data/ (no temporary folders)
    assert os.listdir(tmp_path / 'data') == ['NYUDv2']
    out = str(tmp_path / 'data' / 'NYUDv2')
    assert len(NYUDv2Dataset(data_root=out, split='train', pipeline=[])) == 3
    assert len(NYUDv2Dataset(data_root=out, split='val', pipeline=[])) == 2

    # an existing output is not replaced without --overwrite
    marker = osp.join(out, 'keep.txt')
    open(marker, 'w').close()
    assert nyud_tool.main([archive, '-o', out]) == 1
    assert '--overwrite' in capsys.readouterr().err
    assert osp.isfile(marker)
    assert nyud_tool.main([archive, '-o', out, '--overwrite',
                           '--no-check']) == 0
    assert not osp.exists(marker)
    assert os.listdir(tmp_path / 'data') == ['NYUDv2']


def test_nyud_check_names_bad_files(tmp_path, nyud_tool, capsys):
    root = _nyud_release(tmp_path)
    assert nyud_tool.main(['--check', root]) == 0
    capsys.readouterr()

    seg_path = osp.join(root, 'segmentation', 'train_00001.png')
    seg = cv2.imread(seg_path, cv2.IMREAD_UNCHANGED)
    seg[0, 0] = 77
    cv2.imwrite(seg_path, seg)
    os.remove(osp.join(root, 'depth', 'val_00001.npy'))
    normals_path = osp.join(root, 'normals', 'val_00000.png')
    cv2.imwrite(normals_path, np.zeros((24, 32, 3), np.uint8))

    assert nyud_tool.main(['--check', root]) == 1
    out = capsys.readouterr().out
    assert re.search(r'segmentation/train_00001\.png.*\[77\]', out)
    assert re.search(r'\[val/depth\] missing depth .*depth/val_00001\.npy',
                     out)
    # black pixels decode to (-1, -1, -1), not a unit vector
    assert re.search(r'normals/val_00000\.png: 100\.0% of the valid normals'
                     r'.*length 1\.73', out)
    assert re.search(r'train\s+3\s+795\s+3\s+ok\s+1 bad', out)
    assert 'FAILED: 3 problem(s)' in out

    # a subset still looks for every listed file, but reads fewer maps
    assert nyud_tool.main(['--check', root, '--max-samples', '0']) == 1
    out = capsys.readouterr().out
    assert 'depth/val_00001.npy' in out
    assert 'train_00001.png' not in out

    # millimetre depth is an error that names the config key
    depth_path = osp.join(root, 'depth', 'train_00000.npy')
    np.save(depth_path, (np.load(depth_path) * 1000).astype(np.uint16))
    assert nyud_tool.main(['--check', root, '--splits', 'train']) == 1
    assert 'depth_scale=0.001' in capsys.readouterr().out
    assert nyud_tool.main(
        ['--check', root, '--splits', 'train', '--depth-scale',
         '0.001']) == 1  # the label value 77 is still there
    assert 'depth_scale=0.001' not in capsys.readouterr().out


def test_nyud_check_names_a_truncated_image(tmp_path, nyud_tool, capsys):
    root = _nyud_release(tmp_path)
    images = sorted(os.listdir(osp.join(root, 'images')))
    path = osp.join(root, 'images', images[0])
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    assert nyud_tool.main(['--check', root]) == 1
    out = capsys.readouterr().out
    assert re.search(re.escape(images[0]) + r'.*(truncated|IEND|EOI)', out), \
        out[-2000:]


def test_pascal_zip_and_check(tmp_path, pascal_tool, capsys):
    release = str(tmp_path / 'release')
    _write_pascal(release)
    archive = str(tmp_path / 'PASCALContext.zip')
    with zipfile.ZipFile(archive, 'w') as zf:  # no top-level folder
        for folder, _, files in os.walk(release):
            for name in files:
                path = osp.join(folder, name)
                zf.write(path, osp.relpath(path, release))
    out = str(tmp_path / 'data' / 'PASCALContext')
    assert pascal_tool.main([archive, '-o', out]) == 0
    text = capsys.readouterr().out
    with open(archive, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() in text
    assert re.search(r'val\s+2\s+5105\s+2\s+ok', text)
    assert 'person/part cache is missing' in text  # a warning only
    assert not osp.exists(osp.join(out, 'ImageSets', 'Parts'))  # no writes
    assert os.listdir(tmp_path / 'data') == ['PASCALContext']
    assert len(PascalContextMTDataset(data_root=out, pipeline=[])) == 2

    seg_path = osp.join(out, 'semseg', 'VOC12', 'p1.png')
    seg = cv2.imread(seg_path, cv2.IMREAD_UNCHANGED)
    seg[3, 3] = 30
    cv2.imwrite(seg_path, seg)
    os.remove(osp.join(out, 'pascal-context', 'trainval', 'p2.mat'))
    assert pascal_tool.main(['--check', out, '--splits', 'val']) == 1
    text = capsys.readouterr().out
    assert re.search(r'semseg/VOC12/p1\.png.*\[30\]', text)
    assert re.search(r'\[val/edge\] missing LabelMap .*'
                     r'pascal-context/trainval/p2\.mat', text)


def test_folder_sources_and_unsafe_archives(tmp_path, nyud_tool, capsys):
    release = _nyud_release(tmp_path)
    link = str(tmp_path / 'data' / 'link')
    # a folder is linked (default) or copied; the release's parent works
    assert nyud_tool.main([str(tmp_path / 'release'), '-o', link,
                           '--no-check']) == 0
    assert osp.islink(link) and osp.realpath(link) == osp.realpath(release)
    assert nyud_tool.main([release, '-o', link, '--no-check']) == 1
    assert nyud_tool.main(
        [release, '-o', link, '--mode', 'copy', '--overwrite',
         '--no-check']) == 0
    assert not osp.islink(link)
    assert sorted(os.listdir(link)) == sorted(os.listdir(release))
    # an output inside the release is refused
    assert nyud_tool.main(
        [release, '-o', osp.join(release, 'copy'), '--mode', 'copy']) == 1
    capsys.readouterr()

    # an archive without the layout: nothing is left behind
    junk = str(tmp_path / 'junk.tar.gz')
    with tarfile.open(junk, 'w:gz') as tf:
        info = tarfile.TarInfo('x/readme.txt')
        info.size = 2
        tf.addfile(info, io.BytesIO(b'hi'))
    assert nyud_tool.main([junk, '-o', str(tmp_path / 'out' / 'a')]) == 1
    err = capsys.readouterr().err
    assert 'gt_sets' in err and 'x/' in err
    assert os.listdir(tmp_path / 'out') == []
    # members outside the destination are refused
    evil = str(tmp_path / 'evil.tar.gz')
    with tarfile.open(evil, 'w:gz') as tf:
        info = tarfile.TarInfo('../evil.txt')
        info.size = 1
        tf.addfile(info, io.BytesIO(b'x'))
    assert nyud_tool.main([evil, '-o', str(tmp_path / 'out' / 'b')]) == 1
    assert 'outside' in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'out' / 'evil.txt')
    assert os.listdir(tmp_path / 'out') == []


def test_missing_data_errors_point_to_the_guide(tmp_path):
    assert osp.isfile(GUIDE)
    missing = str(tmp_path / 'data' / 'NYUDv2')
    with pytest.raises(FileNotFoundError) as e:
        NYUDv2Dataset(data_root=missing, pipeline=[])
    msg = str(e.value)
    assert 'docs/en/dataset_prepare.md' in msg
    assert 'data_root' in msg and missing in msg
    assert 'gt_sets/{train,val}.txt' in msg
    assert f'tools/dataset_converters/nyud.py NYUDv2.tar.gz -o {missing}' \
        in msg
    with pytest.raises(FileNotFoundError, match='dataset_prepare.md') as e:
        PascalContextMTDataset(data_root=str(tmp_path / 'nope'), pipeline=[])
    assert 'tools/dataset_converters/pascal_context.py' in str(e.value)
    assert 'ImageSets/Context/{train,val}.txt' in str(e.value)

    # a folder without the split file: what it holds and the check command
    root = tmp_path / 'wrong'
    (root / 'NYUDv2').mkdir(parents=True)
    with pytest.raises(FileNotFoundError) as e:
        NYUDv2Dataset(data_root=str(root), pipeline=[])
    msg = str(e.value)
    assert 'gt_sets/train.txt' in msg and '[NYUDv2/]' in msg
    assert f'nyud.py --check {root}' in msg
    assert 'dataset_prepare.md' in msg

    # a missing map: the file and the check command
    release = _nyud_release(tmp_path)
    os.remove(osp.join(release, 'edge', 'train_00002.png'))
    with pytest.raises(FileNotFoundError) as e:
        NYUDv2Dataset(data_root=release, pipeline=[])
    assert 'edge/train_00002.png' in str(e.value)
    assert '--check' in str(e.value)


def test_guide_describes_both_data_sets():
    with open(GUIDE) as f:
        text = f.read()
    for needle in ('tools/dataset_converters/nyud.py',
                   'tools/dataset_converters/pascal_context.py', '795',
                   '654', '4,998', '5,105', 'data/NYUDv2',
                   'data/PASCALContext', '--check', 'SHA-256'):
        assert needle in text, needle


def test_leftovers_of_an_interrupted_run(tmp_path):
    """Temporary folders of a run killed mid-extraction are removed by the
    next run with a warning naming them; one of a running converter stops
    the run; a set-aside earlier output is named and kept."""
    import signal
    import socket
    import subprocess
    import sys
    release = _nyud_release(tmp_path)
    archive = _tar_gz(release, str(tmp_path / 'NYUDv2.tar.gz'))
    data = tmp_path / 'data'
    host = re.sub(r'[^A-Za-z0-9.]', '_', socket.gethostname())
    ended = subprocess.Popen([sys.executable, '-c', 'pass'])
    ended.wait()
    # an earlier version's name, and the name of a run that has ended
    legacy = data / 'NYUDv2.tmp-k3j_9x0a'
    tagged = data / f'NYUDv2.tmp-{host}-{ended.pid}-ab12cd34'
    for folder in (legacy, tagged):
        (folder / 'NYUDv2' / 'depth').mkdir(parents=True)
        (folder / 'NYUDv2' / 'depth' / 'part.npy').write_bytes(b'x' * 2000)
    aside = data / f'NYUDv2.old-{host}-{ended.pid}-zz99yy88'
    (aside / 'data').mkdir(parents=True)
    unrelated = data / 'NYUDv2.tmp-notes'  # not a name the tool makes
    unrelated.mkdir()
    proc = run([osp.join(TOOLS, 'nyud.py'), archive, '-o', str(data /
                                                               'NYUDv2'),
                '--no-check'], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    for folder in (legacy, tagged):
        assert re.search(rf'warning: removing {re.escape(str(folder))} '
                         r'\(0\.0 MB\), a temporary folder left by an '
                         r'interrupted run', proc.stdout), proc.stdout
        assert not folder.exists()
    assert f'warning: {aside} was left by an interrupted run' in proc.stdout
    assert aside.is_dir() and unrelated.is_dir()
    assert sorted(os.listdir(data)) == sorted(
        ['NYUDv2', aside.name, unrelated.name])

    # a temporary folder of a converter that is still running
    sleeper = subprocess.Popen([sys.executable, '-c',
                                'import time; time.sleep(60)'])
    try:
        busy = data / f'NYUDv2.tmp-{host}-{sleeper.pid}-qq11ww22'
        busy.mkdir()
        proc = run([osp.join(TOOLS, 'nyud.py'), archive, '-o',
                    str(data / 'NYUDv2'), '--overwrite', '--no-check'],
                   cwd=str(tmp_path))
        assert proc.returncode == 1
        assert f'error: {busy} is a temporary folder of another run ' \
            f'preparing {data / "NYUDv2"} (PID {sleeper.pid} on {host})' \
            in proc.stdout
        assert busy.is_dir()
    finally:
        os.kill(sleeper.pid, signal.SIGKILL)
        sleeper.wait()
