from .checkpoint import (BrokenCheckpointError, UnsafeCheckpointError,
                         check_checkpoint_file, checkpoint_safe_globals,
                         load_from_local_safely, safe_torch_load)
from .checkpoint_sources import (download_checkpoint, load_from_http_safely,
                                 register_safe_checkpoint_loader)
from .pretrained import (CheckpointMismatchError, check_pretrained_init_cfg,
                         compare_shapes, listed_keys, load_pretrained_init_cfg,
                         load_pretrained_strictly)

__all__ = [
    'BrokenCheckpointError', 'CheckpointMismatchError',
    'UnsafeCheckpointError', 'check_checkpoint_file',
    'checkpoint_safe_globals', 'download_checkpoint', 'load_from_local_safely',
    'load_from_http_safely', 'load_pretrained_strictly',
    'load_pretrained_init_cfg', 'check_pretrained_init_cfg', 'compare_shapes',
    'listed_keys',
    'register_safe_checkpoint_loader',
    'safe_torch_load'
]
