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
    return sorted(glob.glob(osp.join(root, *parts), recursive=True))


#: The floors of the house: a module may import its own package and any
#: package of a lower floor, never one of its own floor or above.
FLOORS = {
    'functional': 0, 'registry': 0, 'version': 0,
    'tasks': 1, 'utils': 1,
    'structures': 2,
    'datasets': 3, 'engine': 3, 'evaluation': 3, 'models': 3,
    'visualization': 3,
    'apis': 4,
}


def _mmmtcp_imports(path: str, package: str) -> list:
    """``(line, absolute module, inside a function, line text)`` of every
    mmmtcp import of a source file of ``mmmtcp.<package>``."""
    import ast
    with open(path) as f:
        source = f.read()
    tree = ast.parse(source)
    lines = source.splitlines()
    inner = {id(n) for f in ast.walk(tree)
             if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f)}
    here = path.split('mmmtcp/', 1)[1][:-3].replace('/', '.').split('.')
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ['mmmtcp'] + here[:len(here) - node.level]
                mods = ['.'.join(base + ([node.module] if node.module
                                         else []))]
            else:
                mods = [node.module or '']
        elif isinstance(node, ast.Import):
            mods = [alias.name for alias in node.names]
        else:
            continue
        for mod in mods:
            if mod == 'mmmtcp' or mod.startswith('mmmtcp.'):
                found.append((node.lineno, mod, id(node) in inner,
                              lines[node.lineno - 1]))
    return found


def test_no_upward_or_sideways_import():
    """Every mmmtcp module imports only its own package and lower floors;
    the ground floor (:mod:`mmmtcp.functional`) imports nothing else of
    mmmtcp."""
    import glob
    import os.path as osp

    import mmmtcp
    root = osp.dirname(mmmtcp.__file__)
    packages = sorted(
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(root, '*'))
        if not osp.basename(p).startswith('__'))
    assert set(packages) == set(FLOORS), 'give every package a floor'
    checked = 0
    for package in packages:
        for path in (_package_files(package, '**', '*.py') +
                     _package_files(package + '.py')):
            for line, mod, _, text in _mmmtcp_imports(path, package):
                target = mod.split('.')[1] if '.' in mod else None
                assert target is not None, (path, line, text)
                assert target == package or \
                    FLOORS[target] < FLOORS[package], (path, line, text)
                checked += 1
    assert checked > 100


def test_function_level_imports_state_a_reason():
    """An mmmtcp import inside a function carries a comment saying why it
    cannot be at module level."""
    import glob
    import os.path as osp

    import mmmtcp
    root = osp.dirname(mmmtcp.__file__)
    for path in glob.glob(osp.join(root, '**', '*.py'), recursive=True):
        for line, mod, inside, text in _mmmtcp_imports(path, ''):
            if inside:
                assert '#' in text, (path, line, text)


def test_ground_floor_imports_fresh_and_alone():
    """The ground floor works without the rest of the package: importing
    it in a fresh interpreter whose ``mmmtcp/__init__`` is bypassed loads
    no other mmmtcp module."""
    import subprocess
    import sys
    code = (
        'import importlib, importlib.util, sys, types\n'
        'spec = importlib.util.find_spec("mmmtcp")\n'
        'pkg = types.ModuleType("mmmtcp")\n'
        'pkg.__path__ = list(spec.submodule_search_locations)\n'
        'sys.modules["mmmtcp"] = pkg\n'
        'importlib.import_module("mmmtcp.functional")\n'
        'other = sorted(m for m in sys.modules if m.startswith("mmmtcp.")\n'
        '               and not m.startswith("mmmtcp.functional"))\n'
        'assert not other, other\n')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_task_vocabulary_lives_with_the_kinds():
    import mmmtcp
    import mmmtcp.tasks
    assert mmmtcp.TASKS is mmmtcp.tasks.TASKS
    assert mmmtcp.tasks.TaskSpec.__module__ == 'mmmtcp.tasks.task_spec'


def test_no_branch_on_task_or_kind_names_outside_the_kinds():
    """Outside :mod:`mmmtcp.tasks` no code compares a task name or a kind
    name: behaviour is looked up on the kind, the task's declaration or a
    data set's layout table."""
    import re
    names = ('semseg|depth|normals|edge|saliency|human_parts|label|binary|'
             'boundary|regression|normal')
    pattern = re.compile(rf"[=!]= *'({names})'|'({names})' *[=!]=|"
                         rf"\bin \(('({names})'(, )?)+\)|"
                         rf"'({names})' (not )?in ")
    files = [f for f in _package_files('**', '*.py')
             if '/mmmtcp/tasks/' not in f]
    assert len(files) > 60
    for path in files:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                assert not pattern.search(line), (path, number, line)


@pytest.mark.parametrize('module', [
    'mmmtcp.functional', 'mmmtcp.tasks', 'mmmtcp.structures',
    'mmmtcp.utils.config', 'mmmtcp.apis'
])
def test_fresh_import(module):
    """Each entry point imports in a fresh interpreter (no cycle)."""
    import subprocess
    import sys
    subprocess.run([sys.executable, '-c', f'import {module}'], check=True)
