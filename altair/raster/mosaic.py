"""Adjacent rasters as one scene: a GDAL VRT over them, predicted like one image.

The members must share CRS, pixel size, band count and data type, and lie on one pixel
grid (their origins differ by whole pixels). The VRT spans their union; where no member
lies it reads the members' nodata value (0 without one, and then it is predicted too).
Nothing is copied: GDAL reads each window from the members it overlaps.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape

from altair.fileio import write_text
from altair.raster.errors import MosaicError


def _gdal_type(dtype: str) -> str:
    from rasterio.dtypes import dtype_rev, typename_fwd
    return typename_fwd[dtype_rev[dtype]]


def mosaic_vrt(paths: Sequence[str | os.PathLike]) -> str:
    """The VRT XML of ``paths`` side by side (see the module doc).

    Raises:
        MosaicError: naming the first member that differs and how.
    """
    import rasterio

    if not paths:
        raise MosaicError('a mosaic needs at least one raster')
    members = []
    for path in paths:
        with rasterio.open(path) as ds:
            members.append(dict(path=str(Path(path).resolve()), crs=ds.crs, t=ds.transform,
                                w=ds.width, h=ds.height, count=ds.count, dtype=ds.dtypes[0],
                                nodata=ds.nodata, colorinterp=ds.colorinterp))
    for m in members:
        if m['crs'] is None:
            raise MosaicError(f"mosaic member '{m['path']}' has no CRS: a mosaic places its "
                              'members by their georeference; georeference them first')
    first = members[0]
    if first['t'].b or first['t'].d:
        raise MosaicError(f"'{first['path']}' is rotated; mosaics need north-up rasters")
    for m in members[1:]:
        name = m['path']
        if m['count'] != first['count']:
            raise MosaicError(f"mosaic member '{name}' has {m['count']} band(s) but "
                              f"'{first['path']}' has {first['count']}: every member needs "
                              'the same bands')
        if m['dtype'] != first['dtype']:
            raise MosaicError(f"mosaic member '{name}' is {m['dtype']} but '{first['path']}' "
                              f"is {first['dtype']}: convert them to one data type")
        if m['crs'] != first['crs']:
            raise MosaicError(f"mosaic member '{name}' is in {m['crs']} but "
                              f"'{first['path']}' in {first['crs']}: reproject them to one CRS")
        if (m['t'].a, m['t'].e, m['t'].b, m['t'].d) != (first['t'].a, first['t'].e, 0, 0):
            raise MosaicError(f"mosaic member '{name}' has pixels of "
                              f"{m['t'].a:g} x {-m['t'].e:g} but '{first['path']}' of "
                              f"{first['t'].a:g} x {-first['t'].e:g}: resample them to one size")
    a, e = first['t'].a, first['t'].e
    x0 = min(m['t'].c for m in members)
    y0 = max(m['t'].f for m in members) if e < 0 else min(m['t'].f for m in members)
    offsets = []
    for m in members:
        col, row = (m['t'].c - x0) / a, (m['t'].f - y0) / e
        if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
            raise MosaicError(f"mosaic member '{m['path']}' is off the pixel grid of "
                              f"'{first['path']}' by ({col % 1:.3f}, {row % 1:.3f}) pixels: "
                              'resample them onto one grid')
        offsets.append((int(round(col)), int(round(row))))
    width = max(c + m['w'] for (c, _), m in zip(offsets, members))
    height = max(r + m['h'] for (_, r), m in zip(offsets, members))
    gdal_type = _gdal_type(first['dtype'])
    nodata = first['nodata']
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">']
    if first['crs'] is not None:
        lines.append(f'  <SRS>{escape(first["crs"].to_wkt())}</SRS>')
    lines.append(f'  <GeoTransform>{x0!r}, {a!r}, 0, {y0!r}, 0, {e!r}</GeoTransform>')
    for band in range(1, first['count'] + 1):
        lines.append(f'  <VRTRasterBand dataType="{gdal_type}" band="{band}">')
        if nodata is not None:
            lines.append(f'    <NoDataValue>{nodata!r}</NoDataValue>')
        lines.append(f'    <ColorInterp>{first["colorinterp"][band - 1].name.capitalize()}'
                     '</ColorInterp>')
        for (col, row), m in zip(offsets, members):
            kind = 'ComplexSource' if nodata is not None else 'SimpleSource'
            lines += [f'    <{kind}>',
                      f'      <SourceFilename relativeToVRT="0">{escape(m["path"])}'
                      '</SourceFilename>',
                      f'      <SourceBand>{band}</SourceBand>',
                      f'      <SrcRect xOff="0" yOff="0" xSize="{m["w"]}" ySize="{m["h"]}"/>',
                      f'      <DstRect xOff="{col}" yOff="{row}" xSize="{m["w"]}" '
                      f'ySize="{m["h"]}"/>']
            if nodata is not None:
                lines.append(f'      <NODATA>{nodata!r}</NODATA>')
            lines.append(f'    </{kind}>')
        lines.append('  </VRTRasterBand>')
    lines.append('</VRTDataset>')
    return '\n'.join(lines) + '\n'


def write_mosaic_vrt(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write :func:`mosaic_vrt` of ``paths`` to ``out`` (atomically)."""
    return write_text(out, mosaic_vrt(paths))
