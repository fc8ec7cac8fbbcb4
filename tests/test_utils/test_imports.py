"""The environment: mmmtcp, mmseg and mmpretrain import and mmmtcp's
modules are registered in mmseg's registries."""
import importlib

import pytest


@pytest.mark.parametrize('module', [
    'mmmtcp', 'mmseg.models', 'mmseg.datasets', 'mmpretrain.models',
    'mmcv.ops', 'torchvision.ops'
])
def test_import(module):
    importlib.import_module(module)


def test_mmmtcp_registers_into_mmseg_registries():
    import mmmtcp  # noqa: F401
    from mmseg.registry import (DATASETS, HOOKS, METRICS, MODELS,
                                TRANSFORMS, VISUALIZERS)
    expected = {
        MODELS: ['MultiTaskSegmentor', 'MTCPHead', 'MultiTaskBaselineHead',
                 'CoherenceFusionModule', 'SpatialRefinementModule',
                 'MultiTaskDataPreProcessor', 'LossPrioritization',
                 'CrossTaskContrastiveRegularizer'],
        DATASETS: ['NYUDv2Dataset', 'PascalContextMTDataset'],
        TRANSFORMS: ['LoadMultiTaskAnnotations', 'MultiTaskRandomFlip',
                     'PackMultiTaskInputs'],
        HOOKS: ['TaskBalanceHook', 'MultiTaskVisualizationHook'],
        METRICS: ['MultiTaskMetric'],
        VISUALIZERS: ['MultiTaskLocalVisualizer'],
    }
    for registry, names in expected.items():
        for name in names:
            assert registry.get(name) is not None, (registry.name, name)


def test_version_check_names_the_package(monkeypatch):
    import mmseg

    import mmmtcp
    monkeypatch.setattr(mmseg, '__version__', '1.0.0')
    with pytest.raises(ImportError, match='mmseg>=1.2.0,<1.3.0'):
        mmmtcp._check_versions()


def _imports(path: str, inside_functions: bool) -> list:
    """Modules imported by a source file, at module level or inside
    functions."""
    import ast
    with open(path) as f:
        tree = ast.parse(f.read())
    funcs = [n for n in ast.walk(tree)
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    nodes = [n for f in funcs for n in ast.walk(f)] if inside_functions \
        else tree.body
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            found.append('.' * node.level + (node.module or ''))
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def _package_files(*parts) -> list:
    import glob
    import os.path as osp

    import mmmtcp
    root = osp.dirname(mmmtcp.__file__)
    return sorted(glob.glob(osp.join(root, *parts)))


def test_task_kinds_import_what_they_use_at_module_level():
    """The kinds (and the task vocabulary) import the readers, resampling
    and measures they use at module level, never inside functions."""
    files = _package_files('tasks', '*.py')
    assert len(files) >= 8
    for path in files:
        late = [m for m in _imports(path, inside_functions=True)
                if m.startswith(('mmmtcp', '.'))]
        assert not late, (path, late)


def test_utils_do_not_import_upward():
    """mmmtcp.utils depends on no data set, model or metric module."""
    for path in _package_files('utils', '*.py'):
        for inside in (False, True):
            up = [m for m in _imports(path, inside)
                  if m.startswith(('mmmtcp.datasets', 'mmmtcp.models',
                                   'mmmtcp.evaluation', 'mmmtcp.engine',
                                   'mmmtcp.visualization'))]
            assert not up, (path, up)


def test_task_vocabulary_lives_with_the_kinds():
    import mmmtcp.tasks
    import mmmtcp.utils
    import mmmtcp.utils.tasks
    for name in mmmtcp.utils.tasks.__all__:
        assert getattr(mmmtcp.utils.tasks, name) is getattr(
            mmmtcp.tasks, name), name
    assert mmmtcp.utils.TASKS is mmmtcp.tasks.TASKS
    assert mmmtcp.tasks.TaskSpec.__module__ == 'mmmtcp.tasks.task_spec'


def test_consumers_of_the_kinds_do_not_branch_on_task_names():
    """The metric, the regularizer, the segmentor and the visualizer look
    behaviour up on the kind or the task's declaration."""
    import re
    names = ('semseg|depth|normals|edge|saliency|human_parts|label|binary|'
             'boundary|regression|normal')
    pattern = re.compile(rf"[=!]= *'({names})'|'({names})' *[=!]=|"
                         rf"\bin \(('({names})'(, )?)+\)|"
                         rf"'({names})' (not )?in ")
    files = (_package_files('evaluation', 'metrics', '*.py') +
             _package_files('models', 'regularizers', '*.py') +
             _package_files('models', 'segmentors', '*.py') +
             _package_files('visualization', '*.py'))
    for path in files:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                assert not pattern.search(line), (path, number, line)


@pytest.mark.parametrize('module', ['mmmtcp.tasks', 'mmmtcp.utils.tasks',
                                    'mmmtcp.utils.config'])
def test_fresh_import(module):
    """Each entry point imports in a fresh interpreter (no cycle)."""
    import subprocess
    import sys
    subprocess.run([sys.executable, '-c', f'import {module}'], check=True)
