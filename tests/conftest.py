"""Shared test setup."""
import os.path as osp
import sys

import pytest
from mmengine.registry import init_default_scope

import mmmtcp  # noqa: F401  (registers every mmmtcp module)

# shared helpers of the tests (tool runs, probe hooks, distributed workers)
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '_helpers'))


@pytest.fixture(autouse=True)
def builtin_tasks_only():
    """Tasks a test declares (``register_task``) do not leak into the
    next tests."""
    from mmmtcp.tasks import BUILTIN_TASKS, TASKS
    yield
    for name in [t for t in TASKS if t not in BUILTIN_TASKS]:
        del TASKS[name]


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """Every test starts in the mmseg scope, as mmmtcp configs do, whatever
    scope a Runner of an earlier test left behind."""
    init_default_scope('mmseg')
    yield
