"""mmmtcp: multi-task dense prediction for OpenMMLab.

Importing this package checks the installed OpenMMLab versions and registers
every mmmtcp module into mmseg's registries, so that configs with
``default_scope='mmseg'`` can mix mmseg and mmmtcp types freely.
"""
from packaging.version import parse as _parse

from .version import __version__

# (package, minimum inclusive, maximum exclusive)
_REQUIRED = (
    ('mmcv', '2.0.0rc4', '2.2.0'),
    ('mmengine', '0.10.0', '1.0.0'),
    ('mmseg', '1.2.0', '1.3.0'),
    ('mmdet', '3.0.0', '3.4.0'),
)


def _check_versions() -> None:
    import importlib
    for name, low, high in _REQUIRED:
        try:
            module = importlib.import_module(name)
        except ImportError as e:  # pragma: no cover - environment error
            raise ImportError(
                f'mmmtcp needs {name}>={low},<{high} but it cannot be '
                f'imported ({e}). Run `bash tools/setup_env.sh` to create '
                'the environment.') from e
        version = _parse(module.__version__)
        if not (_parse(low) <= version < _parse(high)):
            raise ImportError(
                f'mmmtcp needs {name}>={low},<{high}, but {name} '
                f'{module.__version__} is installed. Run '
                '`bash tools/setup_env.sh` to create a matching environment.')
    try:
        import mmcv.ops  # noqa: F401
    except ImportError as e:  # pragma: no cover - environment error
        raise ImportError(
            'mmmtcp needs mmcv built with ops (`mmcv._ext`), not mmcv-lite: '
            f'{e}. `bash tools/setup_env.sh` builds it from source.') from e


_check_versions()

from . import (datasets, engine, evaluation, functional, models,  # noqa: E402,F401,E501
               structures, tasks, visualization)
from .apis import inference_model, init_model  # noqa: E402
from .tasks import TASKS, get_task  # noqa: E402
from .utils import register_safe_checkpoint_loader  # noqa: E402

register_safe_checkpoint_loader()

__all__ = ['__version__', 'TASKS', 'get_task', 'init_model', 'inference_model']
