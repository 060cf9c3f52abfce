"""Polygon labels: read through pyogrio, reprojected onto the image CRS, burned with rasterio."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from altair.errors import DataNotFoundError, first_line
from altair.raster.errors import VectorFileError, VectorLabelError
from altair.raster.formats import VECTOR_SUFFIXES, has_suffix
from altair.raster.grid import Grid


def is_vector(path: str | os.PathLike) -> bool:
    return has_suffix(path, VECTOR_SUFFIXES)


def vector_fields(path: str | os.PathLike) -> dict[str, Any]:
    """``{'fields': [...], 'crs': ..., 'features': N, 'bounds': (...)}`` of a vector file.

    Raises:
        DataNotFoundError: no such file.
        VectorFileError: a file cut short (by the sizes its headers give: shapefile, dBASE,
            GeoPackage) or one GDAL cannot read.
    """
    import pyogrio
    if not os.path.isfile(path):
        raise DataNotFoundError(f"vector labels '{path}' do not exist")
    check_complete(path)
    with _read_errors(path):
        info = pyogrio.read_info(path)
    return dict(fields=list(info['fields']), crs=info['crs'], features=int(info['features']),
                bounds=tuple(info.get('total_bounds') or ()))


def class_values(path: str | os.PathLike, class_field: str) -> list:
    """The distinct values of ``class_field`` in ``path`` (sorted).

    Raises:
        VectorLabelError: the file has no attribute ``class_field``.
    """
    return sorted(set(_read(path, class_field)[1].tolist()), key=lambda v: (str(type(v)), v))


def _read(path, class_field: str | None) -> tuple[Any, np.ndarray, Any]:
    """(meta, each polygon's ``class_field`` value, WKB geometries); with ``class_field``
    None (footprints) the values are all None."""
    from pyogrio.raw import read
    fields = vector_fields(path)['fields']
    if class_field is None:
        with _read_errors(path):
            meta, _, geometry, _ = read(path, columns=[])
        return meta, np.full(len(geometry), None, dtype=object), geometry
    if class_field not in fields:
        raise VectorLabelError(
            f"vector labels '{path}' have no attribute '{class_field}' (their attributes: "
            f"{', '.join(fields) or 'none'}); name the class attribute with --class-field")
    with _read_errors(path):
        meta, _, geometry, field_data = read(path, columns=[class_field])
    return meta, np.asarray(field_data[0], dtype=object), geometry


@contextmanager
def _read_errors(path):
    """GDAL failing to read ``path`` (pyogrio's errors) as one :class:`VectorFileError`."""
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError
    try:
        yield
    except (DataSourceError, DataLayerError, FieldError, GeometryError) as exc:
        reason = first_line(exc, 200)
        raise VectorFileError(f"cannot read vector labels '{path}': {reason}; the file may be "
                              'truncated or corrupt (copy it again)') from None


def check_complete(path: str | os.PathLike) -> None:
    """Refuse a vector file shorter than its own header says it is: a shapefile's ``.shp`` /
    ``.shx`` (file length at byte 24) and ``.dbf`` (records x record length), a GeoPackage's
    SQLite pages (page size x page count). GDAL reads such files without a word, dropping
    the geometries cut off. Other formats fail to parse instead (see :func:`_read_errors`).

    Raises:
        VectorFileError: naming the file and the sizes.
    """
    path = str(path)
    lower = path.lower()
    if lower.endswith('.shp'):
        stem = path[:-4]
        for suffix in ('.shp', '.shx', '.dbf'):
            part = next((stem + s for s in (suffix, suffix.upper()) if os.path.isfile(stem + s)),
                        None)
            if part is not None:
                _check_size(part, path, _shapefile_size if suffix != '.dbf' else _dbf_size)
    elif lower.endswith('.gpkg'):
        _check_size(path, path, _sqlite_size)


def _check_size(part: str, labels: str, expected) -> None:
    size = os.path.getsize(part)
    with open(part, 'rb') as f:
        head = f.read(100)
    need = expected(head)
    if need is not None and size < need:
        which = '' if part == labels else f' (its {os.path.basename(part)})'
        raise VectorFileError(f"vector labels '{labels}' are truncated{which}: the file has "
                              f'{size} of the {need} bytes its header gives (a copy or download '
                              'cut short?); copy it again')


def _shapefile_size(head: bytes) -> int | None:
    """.shp / .shx: the file length in 16-bit words, big-endian, at byte 24."""
    return 100 if len(head) < 100 else int.from_bytes(head[24:28], 'big') * 2


def _dbf_size(head: bytes) -> int | None:
    """dBASE: header length + records x record length."""
    if len(head) < 32:
        return 32
    records = int.from_bytes(head[4:8], 'little')
    return int.from_bytes(head[8:10], 'little') + records * int.from_bytes(head[10:12], 'little')


def _sqlite_size(head: bytes) -> int | None:
    """SQLite: page size x pages, when the header's page count is valid (its change counter
    at byte 24 equals the version-valid-for number at byte 92)."""
    if len(head) < 100:
        return 100
    if head[24:28] != head[92:96]:
        return None
    page = int.from_bytes(head[16:18], 'big')
    return (65536 if page == 1 else page) * int.from_bytes(head[28:32], 'big')


@dataclass(frozen=True)
class VectorLabels:
    """Polygons in an image's CRS with the class index each burns, and their bounds."""
    geoms: tuple
    values: np.ndarray   # (N,) uint8 class indices
    bounds: np.ndarray   # (N, 4) west, south, east, north


def read_vector_labels(path: str | os.PathLike, *, class_field: str | None,
                       classes_of: dict, dst_crs: Any,
                       footprint_class: int | None = None) -> VectorLabels:
    """Read polygons and their class attribute, mapped through ``classes_of`` ({attribute
    value: class index}), reprojected to ``dst_crs``. Footprints (``class_field`` None:
    polygons without a class attribute, such as building outlines) all burn
    ``footprint_class``.

    Raises:
        VectorLabelError: no ``class_field`` attribute, a value ``classes_of`` lacks, or a
            georeferenced file paired with an image without a CRS.
    """
    import shapely
    from rasterio.warp import transform_geom

    meta, values, wkb = _read(path, class_field)
    if class_field is None:
        if footprint_class is None:
            raise VectorLabelError(f"vector labels '{path}' need class_field (the attribute "
                                   "that holds each polygon's class) or footprint_class (the "
                                   'class every polygon is)')
        classes_of = {None: int(footprint_class)}
    unknown = sorted({str(v) for v in values if v not in classes_of})
    if unknown:
        raise VectorLabelError(
            f"vector labels '{path}': attribute '{class_field}' has values "
            f"{', '.join(unknown[:8])} that the classes do not list "
            f"({', '.join(str(k) for k in classes_of)}); add them to classes.json")
    geoms = shapely.from_wkb(wkb)
    src_crs = meta.get('crs')
    if dst_crs is None and src_crs:
        raise VectorLabelError(f"vector labels '{path}' are in {src_crs} but their image has no "
                               'CRS; georeference the image or give the scene crs and bounds')
    if src_crs and dst_crs is not None:
        mapped = transform_geom(src_crs, dst_crs, [shapely.geometry.mapping(g) for g in geoms])
        geoms = np.array([shapely.geometry.shape(g) for g in mapped], dtype=object)
    idx = np.array([classes_of[v] for v in values], np.uint8)
    return VectorLabels(tuple(geoms), idx, shapely.bounds(np.asarray(geoms)).reshape(-1, 4))


def burn(labels: VectorLabels, grid: Grid, *, fill: int) -> np.ndarray:
    """(H, W) uint8: each polygon's class index where it covers a pixel centre (later
    polygons over earlier ones), ``fill`` elsewhere."""
    from rasterio.features import rasterize

    west, south, east, north = grid.bounds
    b = labels.bounds
    hit = np.flatnonzero((b[:, 0] <= east) & (b[:, 2] >= west) & (b[:, 1] <= north) &
                         (b[:, 3] >= south))
    if not len(hit):
        return np.full((grid.height, grid.width), fill, np.uint8)
    return rasterize([(labels.geoms[i], int(labels.values[i])) for i in hit],
                     out_shape=(grid.height, grid.width), transform=grid.transform, fill=fill,
                     dtype='uint8')

