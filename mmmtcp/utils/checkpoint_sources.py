"""Safe loaders for every checkpoint source mmengine knows.

mmengine resolves a checkpoint name by its prefix (``CheckpointLoader``):
local paths, ``http(s)://`` URLs, the model-zoo names ``open-mmlab://``,
``torchvision://`` (``modelzoo://``) and ``mmcls://`` (which all end in a
URL or a local file), and the cluster stores ``pavi://`` and ``s3://`` /
``petrel://``. Its URL loader goes through torch hub's
``load_state_dict_from_url``, which unpickles with ``weights_only=False``,
so a checkpoint downloaded from a URL - including the ``init_cfg``
``Pretrained`` weights of a config - could run arbitrary code.

:func:`register_safe_checkpoint_loader` replaces the loader of every one of
these prefixes by one that fetches the file the same way (downloads are
cached in ``<torch hub dir>/checkpoints``, rank 0 first) and unpickles it
with :func:`~mmmtcp.utils.checkpoint.safe_torch_load`. Unlike torch hub,
whose cache is keyed by the file name only, a download is cached as
``<first 16 hex digits of sha256(URL)>-<file name>``, so two URLs never
share a file (``.../a/model.pth`` and ``.../b/model.pth``).

Anything outside the allow-list raises
:class:`~mmmtcp.utils.checkpoint.UnsafeCheckpointError` naming the URL
before any of it runs.
"""
import hashlib
import io
import logging
import os
import os.path as osp
from tempfile import TemporaryDirectory
from typing import Any, Optional
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import print_log
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint import load_from_local_safely, safe_torch_load


def cached_checkpoint_path(url: str, model_dir: Optional[str] = None) -> str:
    """Where :func:`download_checkpoint` keeps the file of ``url``.

    The name is ``<sha256(url)[:16]>-<file name of the URL>``: the hash of
    the whole URL (host, port, path, query) keeps different URLs apart,
    the file name keeps the cache readable.

    Args:
        url (str): ``http://`` or ``https://`` URL.
        model_dir (str, optional): Cache folder. Defaults to
            ``<torch.hub.get_dir()>/checkpoints``, as torch hub and mmengine.

    Returns:
        str: The path (which may not exist yet).

    Raises:
        ValueError: The URL's path has no file name.
    """
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    filename = osp.basename(urlparse(url).path)
    if not filename:
        raise ValueError(f'Cannot name the file to download from {url!r}: '
                         'the URL has no file name.')
    key = hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]
    return osp.join(model_dir, f'{key}-{filename}')


def download_checkpoint(url: str,
                        model_dir: Optional[str] = None,
                        progress: bool = False) -> str:
    """Download ``url`` into the checkpoint cache, unless it is there.

    Args:
        url (str): ``http://`` or ``https://`` URL.
        model_dir (str, optional): Cache folder. Defaults to
            ``<torch.hub.get_dir()>/checkpoints``, as torch hub and mmengine.
        progress (bool): Show a progress bar. Defaults to False.

    Returns:
        str: The local path of the downloaded file, named by
        :func:`cached_checkpoint_path` (one file per URL).
    """
    cached = cached_checkpoint_path(url, model_dir)
    os.makedirs(osp.dirname(cached), exist_ok=True)
    if not osp.isfile(cached):
        print_log(f'Downloading {url} to {cached}', logger='current')
        # torch writes to a temporary file and renames it when complete
        torch.hub.download_url_to_file(url, cached, progress=progress)
    return cached


def load_from_http_safely(filename: str,
                          map_location: Any = None,
                          model_dir: Optional[str] = None,
                          progress: bool = False) -> Any:
    """Download a checkpoint (rank 0 first, the others then read the cache)
    and load it with :func:`safe_torch_load`.

    Args:
        filename (str): ``http://`` or ``https://`` URL.
        map_location: Same as :func:`torch.load`.
        model_dir (str, optional): Cache folder, see
            :func:`download_checkpoint`.
        progress (bool): Show a progress bar. Defaults to False.

    Returns:
        dict: The loaded checkpoint.
    """
    rank, world_size = get_dist_info()
    path = None
    if rank == 0:
        path = download_checkpoint(filename, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            path = download_checkpoint(filename, model_dir, progress)
    return safe_torch_load(
        path, map_location=map_location, name=f'{filename} (cached as {path})')


def load_from_torchvision_safely(filename: str,
                                 map_location: Any = None) -> Any:
    """``torchvision://<name>`` (or deprecated ``modelzoo://<name>``)."""
    prefix, name = filename.split('://', 1)
    if prefix == 'modelzoo':
        print_log(
            'The URL scheme of "modelzoo://" is deprecated, please use '
            '"torchvision://" instead',
            logger='current',
            level=logging.WARNING)
    urls = mmengine_checkpoint.get_torchvision_models()
    if name not in urls:
        raise KeyError(f'{filename}: torchvision has no weights named '
                       f'{name!r}')
    return load_from_http_safely(urls[name], map_location=map_location)


def load_from_openmmlab_safely(filename: str,
                               map_location: Any = None) -> Any:
    """``open-mmlab://<name>`` / ``openmmlab://<name>``: a name of mmengine's
    model list (extended by ``$MMENGINE_HOME/open_mmlab.json``), resolved to
    a URL or to a file under ``$MMENGINE_HOME``."""
    prefix, name = filename.split('://', 1)
    deprecated = mmengine_checkpoint.get_deprecated_model_names()
    if name in deprecated:
        print_log(
            f'{prefix}://{name} is deprecated in favor of '
            f'{prefix}://{deprecated[name]}',
            logger='current',
            level=logging.WARNING)
        name = deprecated[name]
    urls = mmengine_checkpoint.get_external_models()
    if name not in urls:
        raise KeyError(f'{filename}: no OpenMMLab model named {name!r}')
    url = urls[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http_safely(url, map_location=map_location)
    path = osp.join(mmengine_checkpoint._get_mmengine_home(), url)
    return load_from_local_safely(path, map_location=map_location)


def load_from_mmcls_safely(filename: str, map_location: Any = None) -> Any:
    """``mmcls://<name>``: an mmcls model-zoo backbone (``backbone.`` keys
    renamed as mmengine does)."""
    name = filename.split('://', 1)[1]
    urls = mmengine_checkpoint.get_mmcls_models()
    if name not in urls:
        raise KeyError(f'{filename}: no mmcls model named {name!r}')
    checkpoint = load_from_http_safely(urls[name], map_location=map_location)
    return mmengine_checkpoint._process_mmcls_checkpoint(checkpoint)


def load_from_pavi_safely(filename: str, map_location: Any = None) -> Any:
    """``pavi://<model path>`` of the PAVI model cloud."""
    try:
        from pavi import modelcloud
    except ImportError as e:
        raise ImportError(
            'Please install pavi to load checkpoint from modelcloud.') from e
    model = modelcloud.get(filename[len('pavi://'):])
    with TemporaryDirectory() as tmp_dir:
        path = osp.join(tmp_dir, model.name)
        model.download(path)
        return safe_torch_load(path, map_location=map_location, name=filename)


def load_from_ceph_safely(filename: str,
                          map_location: Any = None,
                          backend: str = 'petrel') -> Any:
    """``s3://`` / ``petrel://`` paths through mmengine's file backend."""
    file_backend = get_file_backend(
        filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return safe_torch_load(
            buffer, map_location=map_location, name=filename)


#: prefix(es) -> safe loader, covering every scheme mmengine registers
SAFE_LOADERS = (
    ('', load_from_local_safely),
    (('http://', 'https://'), load_from_http_safely),
    (('modelzoo://', 'torchvision://'), load_from_torchvision_safely),
    (('open-mmlab://', 'openmmlab://'), load_from_openmmlab_safely),
    ('mmcls://', load_from_mmcls_safely),
    ('pavi://', load_from_pavi_safely),
    ([r'(\S+\:)?s3://', r'(\S+\:)?petrel://'], load_from_ceph_safely),
)


def register_safe_checkpoint_loader() -> None:
    """Make mmengine load checkpoints of every source through the safe
    loaders (called when :mod:`mmmtcp` is imported)."""
    for prefixes, loader in SAFE_LOADERS:
        CheckpointLoader.register_scheme(
            prefixes=prefixes, loader=loader, force=True)
