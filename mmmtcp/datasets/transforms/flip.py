"""Flipping that keeps every dense map of multi-task prediction aligned."""
from mmseg.datasets.transforms import RandomFlip
from mmseg.registry import TRANSFORMS

from mmmtcp.utils import get_task

_NORMALS_KEY = get_task('normals').gt_key


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(RandomFlip):
    """mmseg's ``RandomFlip`` that also flips normal vectors and intrinsics.

    Every map in ``seg_fields`` is flipped like the image (as mmseg does).
    In addition, in the ``normal_axes`` frame (right, up, toward_camera) a
    horizontal flip negates the normals' x component, a vertical flip their
    y component and a diagonal flip both (all-zero invalid vectors stay
    zero); ``camera_intrinsics`` (if present) get ``cx -> W - 1 - cx``
    and/or ``cy -> H - 1 - cy``.

    Args: as :class:`mmseg.datasets.transforms.RandomFlip` (``prob``,
        ``direction``, ``swap_seg_labels``).
    """

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        direction = results['flip_direction']
        axes = dict(horizontal=(0, ), vertical=(1, ), diagonal=(0, 1))[
            direction]
        normals = results.get(_NORMALS_KEY)
        if normals is not None:
            normals = normals.copy()
            for axis in axes:
                normals[..., axis] = -normals[..., axis]
            normals[normals == 0] = 0.  # no negative zeros
            results[_NORMALS_KEY] = normals
        intr = results.get('camera_intrinsics')
        if intr is not None:
            h, w = results['img'].shape[:2]
            intr = dict(intr)
            if 0 in axes:
                intr['cx'] = (w - 1) - intr['cx']
            if 1 in axes:
                intr['cy'] = (h - 1) - intr['cy']
            results['camera_intrinsics'] = intr
