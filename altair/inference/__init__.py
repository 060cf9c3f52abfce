"""Inference maths as pure functions (windows, stitching) and raster I/O."""
from altair.inference.raster import read_geotiff, write_geotiff, write_png
from altair.inference.sliding import sliding_window_logits, window_grid, window_starts

__all__ = ['read_geotiff', 'write_geotiff', 'write_png', 'sliding_window_logits',
           'window_grid', 'window_starts']
