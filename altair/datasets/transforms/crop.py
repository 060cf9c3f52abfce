"""``CentredRandomCrop``: mmseg's ``RandomCrop``, centred on ``results['crop_centre']`` when a
dataset set one (foreground oversampling, e.g. ``VolumeSliceDataset(oversample=...)``)."""
from __future__ import annotations

from mmseg.datasets.transforms import RandomCrop

from altair.datasets.scenes.sampling import centred_origin
from altair.registry import TRANSFORMS


def centred_bbox(centre: tuple[int, int], crop_size: tuple[int, int],
                 shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(y1, y2, x1, x2)`` of a ``crop_size`` (h, w) crop whose centre pixel
    (``y1 + h // 2``, ``x1 + w // 2``) is ``centre`` (row, col), moved inside an image of
    ``shape`` (H, W); a side longer than the image is cut to it, as ``RandomCrop`` does."""
    h, w = min(crop_size[0], shape[0]), min(crop_size[1], shape[1])
    y1 = int(centred_origin(int(centre[0]), h, shape[0]))
    x1 = int(centred_origin(int(centre[1]), w, shape[1]))
    return y1, y1 + h, x1, x1 + w


@TRANSFORMS.register_module()
class CentredRandomCrop(RandomCrop):
    """``RandomCrop`` (same arguments, same draws) unless ``results['crop_centre']`` is set:
    then the crop is centred on that (row, col) pixel, clamped to the image, and
    ``cat_max_ratio`` is not applied (re-drawing would move the crop off the chosen pixel).
    ``crop_centre`` is removed from ``results`` once used (it names a pixel of the uncropped
    image).

    Args:
        crop_size: (h, w), or one int for both.
        cat_max_ratio: as ``RandomCrop``'s, for the crops without a centre.
        ignore_index: as ``RandomCrop``'s.
    """

    def crop_bbox(self, results: dict) -> tuple:
        # not @cache_randomness: a centred box is not random, and the random one comes from
        # RandomCrop.crop_bbox, which caches itself
        centre = results.get('crop_centre')
        if centre is None:
            return super().crop_bbox(results)
        return centred_bbox(centre, self.crop_size, results['img'].shape[:2])

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        results.pop('crop_centre', None)
        return results
