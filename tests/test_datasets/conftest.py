import pytest

import mmmtcp  # noqa: F401  (registers everything)

from dataset_files import (  # noqa: F401  (the tests import them here)
    H, W, write_nyud_atrc, write_nyud_mtl, write_pascal)


@pytest.fixture
def nyud_root(tmp_path):
    root = str(tmp_path / 'nyud')
    refs = write_nyud_atrc(root)
    return root, refs


@pytest.fixture
def pascal_root(tmp_path):
    root = str(tmp_path / 'pascal')
    refs = write_pascal(root)
    return root, refs


@pytest.fixture(autouse=True)
def mmseg_scope():
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
