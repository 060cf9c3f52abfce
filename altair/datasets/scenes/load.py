"""``LoadRaster``: read an image window (any band count and dtype) and its labels on its grid."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from altair.raster.errors import VectorLabelError
from altair.raster.grid import Grid, read_label_raster, scene_grid
from altair.raster.labels import to_classes
from altair.raster.nodata import nodata_mask
from altair.raster.read import open_raster, read_bands, resolve_bands
from altair.raster.vector import burn, is_vector, read_vector_labels
from altair.registry import TRANSFORMS

_CACHE_SIZE = 32
_handles: 'OrderedDict[tuple, Any]' = OrderedDict()
_vectors: 'OrderedDict[tuple, Any]' = OrderedDict()


def _cached(cache: OrderedDict, key: tuple, make):
    """A per-process LRU (keyed by pid too: a handle opened before a fork is not shared)."""
    key = (os.getpid(), *key)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = make()
    while len(cache) > _CACHE_SIZE:
        old = cache.popitem(last=False)[1]
        if hasattr(old, 'close'):
            old.close()
    return value


def cached_raster(path: str):
    """An open rasterio dataset for ``path``, reused across calls in this process."""
    return _cached(_handles, (str(path),), lambda: open_raster(path))


def cached_vectors(path: str, class_field: str | None, classes_of: dict, crs,
                   footprint_class: int | None = None):
    key = (str(path), class_field, tuple(sorted(classes_of.items(), key=str)),
           crs.to_wkt() if crs is not None else None, footprint_class)
    return _cached(_vectors, key, lambda: read_vector_labels(
        path, class_field=class_field, classes_of=classes_of, dst_crs=crs,
        footprint_class=footprint_class))


def load_labels(seg_map_path: str, grid: Grid, *, ignore_index: int = 255,
                classes_of: dict | None = None, class_field: str | None = None,
                vector_fill: int | None = None,
                footprint_class: int | None = None) -> np.ndarray:
    """(H, W) uint8 class indices of ``grid`` from a label raster (reprojected with nearest
    neighbour when its grid differs) or from polygons (burned: each polygon's
    ``class_field`` value through ``classes_of``, or ``footprint_class`` for polygons without
    a class attribute; ``vector_fill`` elsewhere, default ``ignore_index``)."""
    if is_vector(seg_map_path):
        if class_field is None and footprint_class is None:
            raise VectorLabelError(f"vector labels '{seg_map_path}' need class_field (the "
                                   "attribute that holds each polygon's class) or "
                                   'footprint_class (the class every polygon is)')
        vectors = cached_vectors(seg_map_path, class_field, classes_of or {}, grid.crs,
                                 footprint_class)
        return burn(vectors, grid, fill=ignore_index if vector_fill is None else vector_fill)
    lab = cached_raster(seg_map_path)
    raw = read_label_raster(lab, grid)
    return to_classes(raw, nodata=lab.nodata, ignore_index=ignore_index,
                      classes_of=classes_of, source=f"labels '{seg_map_path}'")


@TRANSFORMS.register_module()
class LoadRaster(BaseTransform):
    """Read ``results['img_path']`` through rasterio, keeping its dtype (uint8, uint16, int16,
    float32, ...) and any number of bands, and ``results['seg_map_path']`` (a label raster
    in any grid, or polygons) onto the image's pixels. Pixels that are nodata in the image
    become ``ignore_index`` in the label, so neither the loss nor the metrics count them.

    Reads ``results['window']`` ``(col, row, width, height)`` only, when set (by
    ``RasterSceneDataset``). Options given here override those the dataset put in
    ``results`` (``bands``, ``nodata``, ``label_values``, ``class_field``, ``vector_fill``).

    Adds ``img`` (H, W, C), ``img_shape``, ``ori_shape``, ``gt_seg_map`` (H, W) uint8 and
    ``nodata_mask`` (H, W) bool.

    Args:
        bands: 1-based band indices or band descriptions (default: every band).
        nodata: the image's nodata value (default: the file's own, else none).
        fill: the value nodata pixels get in ``img``, one per band or one for all (default:
            left as read). Set it to the normalisation mean so that they become 0.
        ignore_index: the label of pixels not to train or evaluate on.
        to_float32: convert ``img`` to float32.
    """

    def __init__(self, *, bands: Sequence[int | str] | None = None,
                 nodata: float | None = None, fill: float | Sequence[float] | None = None,
                 ignore_index: int = 255, to_float32: bool = False) -> None:
        self.bands = list(bands) if bands is not None else None
        self.nodata, self.fill = nodata, fill
        self.ignore_index, self.to_float32 = ignore_index, to_float32

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        src = cached_raster(path)
        bands = resolve_bands(src, self.bands if self.bands is not None
                              else results.get('bands'))
        nodata = next((v for v in (self.nodata, results.get('nodata'), src.nodata)
                       if v is not None), None)
        window = results.get('window')
        img = read_bands(src, bands, window)
        invalid = nodata_mask(img, nodata)
        if self.fill is not None and invalid.any():
            fill = np.broadcast_to(np.asarray(self.fill, np.float64), (img.shape[-1],))
            img = img.copy()
            img[invalid] = fill.astype(img.dtype)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = results['ori_shape'] = img.shape[:2]
        results['nodata_mask'] = invalid
        seg = results.get('seg_map_path')
        if seg:
            grid = scene_grid(src, crs=results.get('crs'), bounds=results.get('bounds'))
            grid = grid.window(window)
            label = load_labels(seg, grid, ignore_index=self.ignore_index,
                                classes_of=results.get('label_values'),
                                class_field=results.get('class_field'),
                                vector_fill=results.get('vector_fill'),
                                footprint_class=results.get('footprint_class'))
            label[invalid] = self.ignore_index
            results['gt_seg_map'] = label
            results.setdefault('seg_fields', [])
            if 'gt_seg_map' not in results['seg_fields']:
                results['seg_fields'].append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(bands={self.bands}, nodata={self.nodata}, '
                f'fill={self.fill}, ignore_index={self.ignore_index})')
