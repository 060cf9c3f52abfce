"""Inference maths as pure functions (window grids, blending, stitching) and raster I/O."""
from altair.inference.blend import BLEND_MODES, blend_weights
from altair.inference.grid import WindowArgumentError, resolve_window, window_grid, window_starts
from altair.inference.precision import resolve_precision
from altair.inference.sliding import pad_to, sliding_window_inference
from altair.raster.sources import TensorSource
from altair.raster.write import read_geotiff, write_geotiff, write_png

__all__ = ['BLEND_MODES', 'blend_weights', 'WindowArgumentError', 'resolve_window',
           'window_grid', 'window_starts', 'resolve_precision', 'read_geotiff', 'write_geotiff',
           'write_png', 'TensorSource', 'pad_to', 'sliding_window_inference']
