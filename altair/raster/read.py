"""Opening and reading rasters through rasterio: bands, windows, read errors, truncation.

Band indices are 1-based, as in rasterio and GDAL. One band rule for training and prediction:
every band but an alpha band (:func:`default_bands`).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Sequence

import numpy as np

from altair.errors import DataNotFoundError, first_line
from altair.raster.errors import BandError, RasterFileError


def open_raster(path: str | os.PathLike):
    """``rasterio.open`` with a one-line error for a missing or unreadable file."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    if not os.path.isfile(path):
        raise DataNotFoundError(f"raster '{path}' does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioIOError as exc:
        reason = (str(exc).strip().splitlines() or ['unreadable'])[0]
        raise RasterFileError(f"cannot read raster '{path}': {reason}; the file may be truncated or "
                        'not a raster') from None
    try:
        short = truncated_tiff(src, path)
    except BaseException:
        src.close()
        raise
    if short is not None:  # refused on opening, before any window of it is read
        src.close()
        raise RasterFileError(truncation_message('raster', path, short))
    return src


def default_bands(src) -> list[int]:
    """The bands read when none are named: every band but an alpha band (all of them where
    every band is alpha)."""
    from rasterio.enums import ColorInterp
    bands = [i + 1 for i, c in enumerate(src.colorinterp) if c != ColorInterp.alpha]
    return bands or list(range(1, src.count + 1))


def resolve_bands(src, bands: Sequence[int | str] | None) -> list[int]:
    """1-based band indices of ``bands`` (indices, or descriptions matched case-insensitively);
    :func:`default_bands` when ``None``.

    Raises:
        BandError: an index outside ``1..count`` or a description the file does not have.
    """
    if bands is None:
        return default_bands(src)
    names = [(d or '').lower() for d in src.descriptions]
    out = []
    for band in bands:
        if isinstance(band, str):
            if band.lower() not in names:
                known = ', '.join(repr(d) for d in src.descriptions if d) or 'none'
                raise BandError(f"raster '{src.name}' has no band described '{band}' "
                                f'(its descriptions: {known}); give 1-based indices instead')
            out.append(names.index(band.lower()) + 1)
        elif isinstance(band, (int, np.integer)) and not isinstance(band, bool):
            if not 1 <= band <= src.count:
                raise BandError(f"band {band} of raster '{src.name}' does not exist: it has "
                                f'{src.count} band(s), indices 1-{src.count} (1-based); '
                                'choose bands among those')
            out.append(int(band))
        else:
            raise BandError(f"band {band!r} for raster '{src.name}': give a 1-based index or "
                            'a band description')
    return out


def read_bands(src, bands: Sequence[int], window: tuple[int, int, int, int] | None = None,
               *, out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read ``bands`` of ``window`` ``(col, row, width, height)`` (the whole raster when
    ``None``) as an (H, W, C) array in the file's dtype. ``out_shape`` (H, W) reads a
    decimated copy (from overviews where the file has them)."""
    from rasterio.windows import Window

    win = Window(*window) if window is not None else None
    shape = (len(bands), *out_shape) if out_shape is not None else None
    with read_errors(src):
        data = src.read(list(bands), window=win, out_shape=shape)
    return np.moveaxis(data, 0, -1)


@contextmanager
def read_errors(src):
    """A pixel read of ``src`` that fails (a truncated or corrupt file) as one
    :class:`DataError` line naming the file."""
    from rasterio.errors import RasterioIOError, WarpOperationError

    try:
        yield
    except (RasterioIOError, WarpOperationError) as exc:
        raise RasterFileError(read_error_message('raster', src.name, exc)) from None


# Pixel-block lookups spent on one raster by :func:`truncated_tiff` (each a few microseconds):
# every block of a raster of up to this many blocks, else the last block of each band.
_ALL_BLOCKS = 20_000


def truncated_tiff(ds, path: str | os.PathLike) -> tuple[int, int] | None:
    """``(bytes the pixel data need, bytes the file has)`` when the GeoTIFF ``ds`` (open, at
    ``path``) ends before its pixel blocks do — a copy or download cut short — else None
    (also for other formats and files GDAL reads through a network).

    The blocks' offsets and sizes come from the TIFF directory GDAL read on opening (its
    ``BLOCK_OFFSET_x_y`` / ``BLOCK_SIZE_x_y`` metadata), so nothing of the pixels is read:
    every block of the full resolution (up to :data:`_ALL_BLOCKS` lookups; beyond, the last
    block of each band, which GDAL writes last) and the last block of each overview.
    """
    from rasterio.enums import Interleaving

    if ds.driver not in ('GTiff', 'COG') or not ds.count or not os.path.isfile(path):
        return None
    size = os.path.getsize(path)
    bands = [1] if ds.interleaving == Interleaving.pixel else list(range(1, ds.count + 1))
    block_h, block_w = ds.block_shapes[0]
    nx, ny = -(-ds.width // block_w), -(-ds.height // block_h)
    if nx * ny * len(bands) <= _ALL_BLOCKS:
        blocks = [(None, x, y) for y in range(ny) for x in range(nx)]
    else:
        blocks = [(None, nx - 1, ny - 1)]
    for level, factor in enumerate(ds.overviews(1)):
        oh, ow = -(-ds.height // factor), -(-ds.width // factor)
        blocks.append((level, -(-ow // block_w) - 1, -(-oh // block_h) - 1))
    end = 0
    for band in bands:
        for level, x, y in blocks:
            offset = ds.get_tag_item(f'BLOCK_OFFSET_{x}_{y}', 'TIFF', bidx=band, ovr=level)
            nbytes = ds.get_tag_item(f'BLOCK_SIZE_{x}_{y}', 'TIFF', bidx=band, ovr=level)
            if offset and nbytes:  # 0 / None: a sparse block, or an overview of other tiles
                end = max(end, int(offset) + int(nbytes))
    return (end, size) if end > size else None


def truncation_message(what: str, path: str | os.PathLike, short: tuple[int, int]) -> str:
    """One line for :func:`truncated_tiff`'s answer: ``"<what> '<path>' is truncated: ..."``."""
    need, size = short
    return (f"{what} '{path}' is truncated: its pixel data run to byte {need} but the file "
            f'has {size} bytes (a copy or download cut short?); copy it again')


def read_error_message(what: str, path: str | os.PathLike, exc: BaseException) -> str:
    """One line for a raster that failed to read: ``what`` and ``path``, GDAL's first reason
    (rasterio chains the specific one below a generic 'Read failed')."""
    reason = exc
    while reason.__cause__ is not None or reason.__context__ is not None:
        reason = reason.__cause__ or reason.__context__
    text = first_line(reason, 200)
    return (f"cannot read {what} '{path}': {text}; the file may be truncated or corrupt "
            '(copy it again)')
