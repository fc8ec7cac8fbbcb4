"""Makes ``import mmmtcp`` in the converters load this checkout's package.

The converter entry points (``nyud.py``, ``pascal_context.py``) import this
module, for its effect only, before they import :mod:`mmmtcp`: the root of
the checkout holding this folder goes first on ``sys.path`` (unless it is
already on it), so a converter run from a checkout checks the data with
that checkout's readers, whichever ``mmmtcp`` the environment has
installed.
"""
import os.path as osp
import sys

#: Root of the checkout holding this folder.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
