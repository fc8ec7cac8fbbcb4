"""Shared plumbing of the tests that run the command-line tools or several
processes: the checkout root, a free port, a tiny config of the CPU demo
and a subprocess runner."""
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import Dict, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HELPERS = osp.dirname(osp.abspath(__file__))


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_demo_config(path: str, data_root: str, body: str = '') -> str:
    """Write a config inheriting the CPU demo (``mtcp_demo_synthetic.py``)
    that reads ``data_root`` in the main process; ``body`` is appended."""
    base = osp.join(ROOT, 'configs', 'mtcp', 'mtcp_demo_synthetic.py')
    text = f"""
_base_ = [{base!r}]
custom_imports = dict(imports=['mmmtcp', 'probe_hooks'],
                      allow_failed_imports=False)
data_root = {str(data_root)!r}
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
"""
    with open(path, 'w') as f:
        f.write(text + body)
    return str(path)


def run(args: Sequence[str],
        cwd: str,
        env: Optional[Dict[str, str]] = None,
        python: bool = True,
        timeout: int = 900) -> subprocess.CompletedProcess:
    """Run a tool (``python ARGS`` or, with ``python=False``, ``ARGS``)
    with this checkout and the test helpers importable; output in
    ``stdout``."""
    full_env = dict(os.environ, OMP_NUM_THREADS='1')
    full_env.update(env or {})
    full_env['PYTHONPATH'] = os.pathsep.join(
        [ROOT, HELPERS, full_env.get('PYTHONPATH', '')])
    command = [sys.executable, *args] if python else list(args)
    return subprocess.run(
        command,
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module (for its functions);
    ``name`` may name a subfolder, e.g. ``'model_converters/x'``."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'tool_' + name.replace('/', '_'),
        osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_process_cfg(config: str, data_root: str, work_dir: str):
    """Load a config for a Runner built in the test process: loaders in the
    main process on ``data_root``, a visualizer and experiment of their own
    (mmengine shares instances by name)."""
    import uuid

    from mmengine.config import Config
    cfg = Config.fromfile(config)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].dataset.data_root = str(data_root)
    cfg.work_dir = str(work_dir)
    cfg.visualizer.name = f'vis_{uuid.uuid4().hex}'
    cfg.experiment_name = f'exp_{uuid.uuid4().hex}'
    return cfg
