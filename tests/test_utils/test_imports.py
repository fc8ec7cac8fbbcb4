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
