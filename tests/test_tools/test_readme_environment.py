"""The README's way into the environment works in a fresh shell: after
``source .venv/bin/activate`` the tools' commands run as written."""
import os
import os.path as osp
import subprocess

import pytest

from tool_runs import ROOT


@pytest.mark.skipif(not osp.exists(osp.join(ROOT, '.venv', 'bin',
                                            'activate')),
                    reason='needs the environment made by `make env`')
def test_activate_then_tools_run_as_written():
    # a shell that knows nothing of the environment: no PYTHONPATH, a
    # PATH without the virtual environment
    env = dict(PATH='/usr/bin:/bin', HOME=os.environ.get('HOME', '/root'))
    script = ('source .venv/bin/activate && '
              'python tools/train.py --help && '
              'python tools/test.py --help && '
              'python -c "import mmmtcp, sys; print(mmmtcp.__file__)"')
    proc = subprocess.run(['bash', '-c', script],
                          cwd=ROOT,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'usage: train.py' in proc.stdout
    assert 'usage: test.py' in proc.stdout
