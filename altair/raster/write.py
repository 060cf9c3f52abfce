"""Raster writers: atomic GeoTIFF, Cloud-Optimized GeoTIFF and PNG output (and the GeoTIFF
read-back of a written output)."""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from altair.fileio import atomic_write, discard, partial_path


def geotiff_profile(width: int, height: int, *, transform, crs) -> dict:
    """Altair's GeoTIFF layout: 256x256 tiles, deflate, BigTIFF when the size needs it."""
    return dict(driver='GTiff', width=width, height=height, crs=crs, transform=transform,
                compress='deflate', tiled=True, blockxsize=256, blockysize=256,
                BIGTIFF='IF_SAFER')


@functools.lru_cache(maxsize=1)
def _zstd() -> bool:
    """Whether this GDAL writes ZSTD-compressed GeoTIFFs (rasterio's wheels do)."""
    import warnings

    import rasterio
    import rasterio.shutil
    probe = '/vsimem/altair_zstd_probe.tif'
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
            ds = rasterio.open(probe, 'w', driver='GTiff', width=1, height=1, count=1,
                               dtype='uint8', compress='zstd')
        with ds:
            ds.write(np.zeros((1, 1, 1), np.uint8))
        rasterio.shutil.delete(probe)
        return True
    except Exception:
        return False


def stream_profile(width: int, height: int, *, transform, crs) -> dict:
    """:func:`geotiff_profile` for the temporary files a prediction streams into: ZSTD at
    level 1 where GDAL has it (about 2x faster to write, flush and read back than deflate;
    the final copy is deflate either way, so the outputs' bytes do not change)."""
    profile = geotiff_profile(width, height, transform=transform, crs=crs)
    if _zstd():
        profile.update(compress='zstd', zstd_level=1)
    return profile


def write_geotiff(path: str | os.PathLike, array: np.ndarray, *, transform, crs: str = 'EPSG:4326',
                  nodata: int | float | None = None, colormap: dict | None = None) -> Path:
    """Write (H, W) or (H, W, C) ``array`` as a tiled, deflate-compressed GeoTIFF, atomically.

    ``colormap`` ({value: (r, g, b, a)}) is stored on band 1 of single-band uint8 rasters.
    """
    import rasterio

    bands = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    profile = dict(geotiff_profile(array.shape[1], array.shape[0], transform=transform, crs=crs),
                   count=bands.shape[0], dtype=array.dtype.name)
    if nodata is not None:
        profile['nodata'] = nodata
    with atomic_write(path) as tmp, rasterio.open(tmp, 'w', **profile) as dst:
        dst.write(bands)
        if colormap is not None:
            dst.write_colormap(1, colormap)
    return Path(path)


def write_cog(src: str | os.PathLike, dst: str | os.PathLike, *,
              resampling: str = 'AVERAGE') -> Path:
    """Copy the raster ``src`` to ``dst`` as a Cloud-Optimized GeoTIFF, atomically.

    GDAL's COG driver (through rasterio) lays it out: 256x256 deflate tiles, overviews down
    to one tile resampled with ``resampling`` (``MODE`` for labels, ``AVERAGE`` for scores),
    the IFDs and the tile data in the order the COG layout requires; colour table, nodata,
    mask band and band descriptions are kept.
    """
    import rasterio.shutil

    with atomic_write(dst, tag='partial-cog') as tmp:
        rasterio.shutil.copy(str(src), str(tmp), driver='COG', COMPRESS='DEFLATE',
                             BLOCKSIZE=256, OVERVIEW_RESAMPLING=resampling, BIGTIFF='IF_SAFER')
    return Path(dst)


def copy_geotiff(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy the raster ``src`` to ``dst`` as a tiled GeoTIFF in Altair's layout (256x256
    deflate tiles, no overviews), atomically. The bytes depend only on the pixels and the
    metadata, not on how ``src`` was written."""
    import rasterio.shutil

    with atomic_write(dst, tag='partial-copy') as tmp:
        rasterio.shutil.copy(str(src), str(tmp), driver='GTiff', COMPRESS='DEFLATE',
                             TILED='YES', BLOCKXSIZE=256, BLOCKYSIZE=256, BIGTIFF='IF_SAFER')
    return Path(dst)


def stack_rows(parts: Sequence[str | os.PathLike], dst: str | os.PathLike, *,
               format: str = 'gtiff', resampling: str = 'AVERAGE',
               strip_rows: int = 1024) -> Path:
    """Join rasters that are consecutive row blocks of one image (same width, bands, dtype;
    the first one's georeference) into ``dst``, atomically: a COG (``format='cog'``, overviews
    by ``resampling``) or Altair's tiled GeoTIFF, as :func:`write_cog` / :func:`copy_geotiff`
    make them. Colour table, nodata, band descriptions and a per-dataset mask band are kept;
    pixels move in strips of ``strip_rows`` rows, so memory stays bounded."""
    import rasterio
    from rasterio.enums import MaskFlags
    from rasterio.windows import Window

    dst = Path(dst)
    tmp = partial_path(dst, 'partial-stack')  # scratch: copied into dst's own temporary
    heights = []
    for part in parts:
        with rasterio.open(part) as ds:
            heights.append(ds.height)
    try:
        with rasterio.open(parts[0]) as first:
            profile = dict(first.profile, height=sum(heights), driver='GTiff')
            colormap = first.colormap(1) if first.dtypes[0] == 'uint8' and \
                first.colorinterp[0].name == 'palette' else None
            descriptions = first.descriptions
            masked = MaskFlags.per_dataset in first.mask_flag_enums[0]
        with rasterio.open(tmp, 'w', **profile) as out:
            if colormap is not None:
                out.write_colormap(1, colormap)
            for band, text in enumerate(descriptions, 1):
                if text:
                    out.set_band_description(band, text)
            row = 0
            for part, height in zip(parts, heights):
                with rasterio.open(part) as ds:
                    for y in range(0, height, strip_rows):
                        n = min(strip_rows, height - y)
                        src, win = Window(0, y, ds.width, n), Window(0, row + y, ds.width, n)
                        out.write(ds.read(window=src), window=win)
                        if masked:
                            out.write_mask(ds.read_masks(1, window=src), window=win)
                row += height
        if format == 'cog':
            write_cog(tmp, dst, resampling=resampling)
        else:
            copy_geotiff(tmp, dst)
    finally:
        discard(tmp)
    return dst


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) RGB or (H, W) uint8 image as PNG, atomically."""
    import cv2

    img = rgb[:, :, ::-1] if rgb.ndim == 3 else rgb
    with atomic_write(path) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(img)):
            raise OSError(f'could not write {path}')
    return Path(path)


def read_geotiff(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """Read a GeoTIFF as (H, W) or (H, W, C) with its ``transform``, ``crs`` and ``nodata``."""
    import rasterio

    with rasterio.open(path) as src:
        data = src.read()
        meta = dict(transform=src.transform, crs=src.crs, nodata=src.nodata)
    return (data[0] if data.shape[0] == 1 else np.moveaxis(data, 0, -1)), meta
