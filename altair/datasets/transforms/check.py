"""``CheckSegSample``: fail at the first training sample whose mask cannot be right."""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from altair.errors import AltairError
from altair.registry import TRANSFORMS


class SegSampleError(AltairError, ValueError):
    """An image/mask pair that training cannot use as it is."""


@TRANSFORMS.register_module()
class CheckSegSample(BaseTransform):
    """Check a loaded sample before augmentation: the mask has the image's size and only
    class indices below ``num_classes`` or ``ignore_index``.

    Without it a smaller mask is cropped with the image's box and silently misaligned, and a
    label beyond the classes surfaces as a cross-entropy index error (or a CUDA assert) far
    from the file. ``prepare_config`` puts it after ``LoadAnnotations`` in every pipeline.
    ``altair check-data CONFIG`` scans a whole dataset up front.

    Args:
        num_classes: the decode head's classes.
        ignore_index: the label that is not trained on.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index

    def transform(self, results: dict) -> dict:
        mask = results.get('gt_seg_map')
        if mask is None:
            return results
        where = f"{results.get('seg_map_path')} (image {results.get('img_path')})"
        img = results.get('img')
        if img is not None and mask.shape[:2] != img.shape[:2]:
            raise SegSampleError(
                f'mask {where} is {mask.shape[1]}x{mask.shape[0]} but its image is '
                f'{img.shape[1]}x{img.shape[0]}; run `altair check-data CONFIG` to list all')
        bad = (mask >= self.num_classes) & (mask != self.ignore_index)
        if bad.any():
            values = ', '.join(str(v) for v in np.unique(mask[bad])[:8])
            raise SegSampleError(
                f'mask {where} has values {values}, which are not classes (0-'
                f'{self.num_classes - 1}) nor the ignore index {self.ignore_index}; run '
                '`altair check-data CONFIG` to list all')
        return results
