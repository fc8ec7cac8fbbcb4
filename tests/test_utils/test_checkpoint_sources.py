"""Every checkpoint source is loaded safely: a local HTTP server serves a
malicious and a legitimate checkpoint, which go through the entry points a
user calls (``load_checkpoint``, an ``init_cfg`` of type ``Pretrained``, an
``open-mmlab://`` name, ``tools/test.py``); files that are not complete
checkpoints fail with an error naming them."""
import functools
import http.server
import os
import os.path as osp
import threading

import pytest
import torch
import torch.nn as nn
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from mmpretrain.models.backbones import VisionTransformer as PretrainViT

from mmmtcp.datasets import generate_scenes
from mmmtcp.utils import BrokenCheckpointError, UnsafeCheckpointError
from mmseg.models.backbones import VisionTransformer
from tool_runs import ROOT, run, write_demo_config


class _Payload:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _tiny_vit(init_cfg=None):
    """mmseg's ViT, which loads ``Pretrained`` weights itself."""
    return VisionTransformer(
        img_size=(32, 32),
        patch_size=16,
        embed_dims=32,
        num_layers=1,
        num_heads=2,
        mlp_ratio=2,
        out_indices=(0, ),
        init_cfg=init_cfg)


def _tiny_pretrain_vit(init_cfg=None):
    """mmpretrain's ViT (the backbone of the ViT configs), initialized by
    mmengine's ``PretrainedInit``."""
    return PretrainViT(
        arch=dict(
            embed_dims=32,
            num_layers=1,
            num_heads=2,
            feedforward_channels=64),
        img_size=32,
        patch_size=16,
        out_type='featmap',
        init_cfg=init_cfg)


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """Serve ``evil.pth`` (its unpickling would create ``executed``),
    ``good.pth`` (a tiny mmseg ViT's weights) and ``good_prefixed.pth`` (a
    tiny mmpretrain ViT's weights with the ``backbone.`` prefix of an
    mmpretrain classifier) on 127.0.0.1."""
    root = tmp_path_factory.mktemp('served')
    marker = root.parent / 'executed'
    torch.save(
        dict(
            state_dict=dict(w=torch.zeros(1)),
            meta=_Payload(str(marker))), str(root / 'evil.pth'))
    torch.manual_seed(0)
    vit = _tiny_vit()
    torch.save(
        dict(state_dict=vit.state_dict(), meta=dict(epoch=3)),
        str(root / 'good.pth'))
    pretrain_vit = _tiny_pretrain_vit()
    state = {
        f'backbone.{k}': v
        for k, v in pretrain_vit.state_dict().items()
    }
    torch.save(
        dict(state_dict=state, meta=dict(epoch=3)),
        str(root / 'good_prefixed.pth'))
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield dict(
        url=f'http://127.0.0.1:{httpd.server_address[1]}',
        marker=marker,
        good_state=vit.state_dict(),
        good_pretrain_state=pretrain_vit.state_dict())
    httpd.shutdown()


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Fresh download cache and mmengine home for each test."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path / 'mmengine_home'))
    os.makedirs(tmp_path / 'mmengine_home')
    return tmp_path


def test_every_mmengine_scheme_has_a_safe_loader():
    for name in ('a.pth', 'http://h/a.pth', 'https://h/a.pth',
                 'open-mmlab://resnet50_v1c', 'openmmlab://x',
                 'torchvision://resnet50', 'modelzoo://resnet50',
                 'mmcls://x', 'pavi://x', 's3://b/a.pth', 'petrel://b/a',
                 'cluster:s3://b/a.pth'):
        loader = CheckpointLoader._get_checkpoint_loader(name)
        assert loader.__module__ == 'mmmtcp.utils.checkpoint_sources' or \
            loader.__name__ == 'load_from_local_safely', (name, loader)


def test_url_checkpoint_refused_without_running_it(server, caches):
    url = server['url'] + '/evil.pth'
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(nn.Linear(1, 1), url)
    assert not server['marker'].exists()
    # the cached copy is refused too
    with pytest.raises(UnsafeCheckpointError, match='system'):
        load_checkpoint(nn.Linear(1, 1), url)
    assert not server['marker'].exists()


def test_pretrained_init_cfg_from_url(server, caches):
    vit = _tiny_vit(
        dict(type='Pretrained', checkpoint=server['url'] + '/evil.pth'))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        vit.init_weights()
    assert not server['marker'].exists()

    vit = _tiny_vit(
        dict(type='Pretrained', checkpoint=server['url'] + '/good.pth'))
    vit.init_weights()
    for key, value in server['good_state'].items():
        assert torch.equal(vit.state_dict()[key], value), key

    # the ViT configs' form: mmpretrain backbone, `prefix='backbone.'`
    vit = _tiny_pretrain_vit(
        dict(type='Pretrained', checkpoint=server['url'] + '/evil.pth',
             prefix='backbone.'))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        vit.init_weights()
    vit = _tiny_pretrain_vit(
        dict(
            type='Pretrained',
            checkpoint=server['url'] + '/good_prefixed.pth',
            prefix='backbone.'))
    vit.init_weights()
    for key, value in server['good_pretrain_state'].items():
        assert torch.equal(vit.state_dict()[key], value), key
    assert not server['marker'].exists()


def test_openmmlab_name_resolved_to_url(server, caches):
    with open(caches / 'mmengine_home' / 'open_mmlab.json', 'w') as f:
        f.write('{"evil_net": "%s/evil.pth", "good_net": "%s/good.pth"}' %
                (server['url'], server['url']))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(nn.Linear(1, 1), 'open-mmlab://evil_net')
    assert not server['marker'].exists()
    vit = _tiny_vit()
    load_checkpoint(vit, 'open-mmlab://good_net')
    for key, value in server['good_state'].items():
        assert torch.equal(vit.state_dict()[key], value), key


def test_test_tool_refuses_url_checkpoint(server, tmp_path):
    data_root = tmp_path / 'scenes'
    generate_scenes(str(data_root), num_train=1, num_val=1, seed=0)
    cfg = write_demo_config(str(tmp_path / 'cfg.py'), data_root)
    proc = run([
        osp.join(ROOT, 'tools', 'test.py'), cfg, server['url'] + '/evil.pth',
        '--work-dir',
        str(tmp_path / 'work')
    ],
               cwd=str(tmp_path),
               env=dict(TORCH_HOME=str(tmp_path / 'torch_home')))
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in proc.stdout
    assert 'evil.pth' in proc.stdout
    assert not server['marker'].exists()


@pytest.mark.parametrize('content, match', [
    (b'', 'empty'),
    (b'abc', 'not a PyTorch checkpoint'),
    (b'this is a text file\n' * 10, 'not a PyTorch checkpoint'),
])
def test_non_checkpoint_files_named_in_the_error(tmp_path, content, match):
    path = tmp_path / 'model.pth'
    path.write_bytes(content)
    with pytest.raises(BrokenCheckpointError, match=match) as info:
        load_checkpoint(nn.Linear(1, 1), str(path))
    assert 'model.pth' in str(info.value)


def test_truncated_checkpoint_named_in_the_error(tmp_path):
    path = tmp_path / 'iter_8.pth'
    torch.save(dict(state_dict=nn.Linear(4, 4).state_dict()), str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(BrokenCheckpointError, match='truncated') as info:
        load_checkpoint(nn.Linear(4, 4), str(path))
    assert 'iter_8.pth' in str(info.value)


@pytest.fixture
def same_name_server(tmp_path):
    """Serve two different state dicts as ``a/model.pth`` and
    ``b/model.pth`` on 127.0.0.1 and record the paths requested."""
    root = tmp_path / 'served_same_name'
    states = {}
    for folder, value in (('a', 1.0), ('b', 2.0)):
        (root / folder).mkdir(parents=True)
        states[folder] = dict(w=torch.full((2, ), value))
        torch.save(dict(state_dict=states[folder]),
                   str(root / folder / 'model.pth'))
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield dict(port=httpd.server_address[1], states=states,
               requests=requests)
    httpd.shutdown()


def test_download_cache_is_keyed_by_the_whole_url(same_name_server, caches):
    """Two URLs whose file names are equal never share a cached file; the
    same URL is downloaded once."""
    port = same_name_server['port']
    requests = same_name_server['requests']
    states = same_name_server['states']
    url_a = f'http://127.0.0.1:{port}/a/model.pth'
    url_b = f'http://localhost:{port}/b/model.pth'
    model = nn.Module()
    model.register_buffer('w', torch.zeros(2))
    load_checkpoint(model, url_a)
    assert torch.equal(model.w, states['a']['w'])
    assert requests == ['/a/model.pth']
    load_checkpoint(model, url_b)
    assert torch.equal(model.w, states['b']['w'])
    assert requests == ['/a/model.pth', '/b/model.pth']
    # cached under readable names, one per URL; a second load reads them
    cached = sorted(os.listdir(caches / 'torch_home' / 'hub' /
                               'checkpoints'))
    assert len(cached) == 2 and all(
        name.endswith('-model.pth') for name in cached), cached
    load_checkpoint(model, url_a)
    assert torch.equal(model.w, states['a']['w'])
    assert len(requests) == 2
