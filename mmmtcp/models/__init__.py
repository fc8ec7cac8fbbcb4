"""Models of mmmtcp: multi-task segmentor, heads, MT-CP layers, losses."""
from .backbones import *  # noqa: F401,F403
from .data_preprocessor import MultiTaskDataPreProcessor  # noqa: F401
from .decode_heads import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .regularizers import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
