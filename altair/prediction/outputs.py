"""The outputs made after the stream: the overlay and uncertainty PNGs (read by decimation,
so a huge image is never loaded whole), and the arrays of a resumed run read back from its
files."""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np

from altair.prediction.writers import LabelCollector
from altair.raster.write import write_png
from altair.visualization.overlay import (blend, colorize, colorize_scalar, default_palette,
                                          to_display_rgb, with_legend)

logger = logging.getLogger('altair')


def _decimated(raster: Path, height: int, width: int, step: int) -> np.ndarray:
    import rasterio
    from rasterio.enums import Resampling
    with rasterio.open(raster) as ds:
        return ds.read(1, out_shape=(-(-height // step), -(-width // step)),
                       resampling=Resampling.nearest)


def write_overlay(src, labels: np.ndarray | Path, path: Path, *, palette, num_classes: int,
                  classes=None, max_side: int = 4096, alpha: float = 0.5) -> Path:
    """A PNG of the labels coloured over the image, downsampled so the long side is at most
    ``max_side`` (read by decimation: a huge image is never loaded whole), the legend of the
    ``classes`` under it."""
    _, height, width = src.shape
    step = max(1, -(-max(height, width) // max_side))
    small = (labels[::step, ::step] if isinstance(labels, np.ndarray)
             else _decimated(labels, height, width, step))
    rgb = to_display_rgb(np.asarray(src.thumbnail(step)))
    palette = palette or default_palette(num_classes)
    return write_png(path, with_legend(blend(rgb, colorize(small, palette), alpha), classes,
                                       palette[:num_classes]))


def write_scalar_png(raster: Path, path: Path, *, height: int, width: int,
                     max_side: int = 4096) -> Path:
    """A PNG of band 1 of ``raster`` (e.g. the uncertainty) through the magma colour map,
    nodata black, long side at most ``max_side`` (read by decimation)."""
    step = max(1, -(-max(height, width) // max_side))
    return write_png(path, colorize_scalar(_decimated(raster, height, width, step)))


def read_back(written: dict, collector: LabelCollector) -> LabelCollector:
    """``collector``'s arrays filled from the files a resumed run completed (its own rows
    start at the resume point); float32 probabilities only, else ``probs`` is None."""
    import rasterio
    with rasterio.open(written['labels']) as ds:
        collector.labels[:] = ds.read(1)
    if collector.uncertainty is not None:
        with rasterio.open(written['uncertainty']) as ds:
            collector.uncertainty[:] = ds.read(1)
    if collector.probs is not None:
        probs = written.get('probs')
        with contextlib.ExitStack() as stack:
            ds = stack.enter_context(rasterio.open(probs)) if probs else None
            if ds is not None and ds.dtypes[0] == 'float32':
                collector.probs[:] = ds.read()
            else:
                logger.warning('a resumed run returns probabilities only from a float32 '
                               'probability file')
                collector.probs = None
    return collector
