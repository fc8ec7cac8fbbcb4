"""Flipping that keeps every dense map of multi-task prediction aligned."""
from mmseg.datasets.transforms import RandomFlip
from mmseg.registry import TRANSFORMS

from mmmtcp.tasks.task_spec import TASKS
from mmmtcp.functional.geometry import flip_intrinsics


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(RandomFlip):
    """mmseg's ``RandomFlip`` that also flips normal vectors and intrinsics.

    Every map in ``seg_fields`` is flipped like the image (as mmseg does).
    In addition, in the ``normal_axes`` frame (right, up, toward_camera) a
    horizontal flip negates the normals' x component, a vertical flip their
    y component and a diagonal flip both (all-zero invalid vectors stay
    zero); ``camera_intrinsics`` (if present) get ``cx -> W - 1 - cx``
    and/or ``cy -> H - 1 - cy``
    (:func:`mmmtcp.functional.geometry.flip_intrinsics`).

    Args: as :class:`mmseg.datasets.transforms.RandomFlip` (``prob``,
        ``direction``, ``swap_seg_labels``).
    """

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        direction = results['flip_direction']
        axes = dict(horizontal=(0, ), vertical=(1, ), diagonal=(0, 1))[
            direction]
        # maps whose values depend on the image axes (normals) change
        for spec in TASKS.values():
            gt = results.get(spec.gt_key)
            if gt is not None:
                results[spec.gt_key] = spec.kind_impl.flip(gt, axes)
        intr = results.get('camera_intrinsics')
        if intr is not None:
            results['camera_intrinsics'] = flip_intrinsics(intr, direction)
