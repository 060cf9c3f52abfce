"""Small GeoTIFFs and GeoJSON files with known coordinates, written for the raster tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_tif(path: Path, data: np.ndarray, *, crs='EPSG:32633', transform=None,
              nodata=None, descriptions=None) -> Path:
    """Write (C, H, W) or (H, W) ``data``; default grid: 10 m pixels from (500000, 5000000)
    in ``crs``; ``crs=None`` without a transform writes a plain (not georeferenced) image."""
    import rasterio
    from rasterio.transform import from_origin

    data = data[None] if data.ndim == 2 else data
    driver = 'PNG' if str(path).endswith('.png') else 'GTiff'
    profile = dict(driver=driver, width=data.shape[2], height=data.shape[1],
                   count=data.shape[0], dtype=data.dtype.name)
    if transform is not None or crs is not None:  # a plain image has neither
        profile['transform'] = transform or from_origin(500000, 5000000, 10, 10)
    if crs is not None:
        profile['crs'] = crs
    if nodata is not None:
        profile['nodata'] = nodata
    import warnings
    from rasterio.errors import NotGeoreferencedWarning
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(data)
            for i, d in enumerate(descriptions or [], 1):
                dst.set_band_description(i, d)
    return path


def write_geojson(path: Path, features: list[tuple[list, dict]]) -> Path:
    """Polygons given as (exterior ring [(lon, lat), ...], properties)."""
    fc = dict(type='FeatureCollection', features=[
        dict(type='Feature', properties=props,
             geometry=dict(type='Polygon', coordinates=[[list(p) for p in ring]]))
        for ring, props in features])
    path.write_text(json.dumps(fc))
    return path


def utm_boxes(boxes: list[tuple[float, float, float, float]], crs: str = 'EPSG:32633'
              ) -> list[list[tuple[float, float]]]:
    """Exterior rings in lon/lat of rectangles given as (x0, y0, x1, y1) in ``crs``
    (:func:`write_tif`'s default grid), for :func:`write_geojson`."""
    from rasterio.warp import transform as warp_points
    rings = []
    for x0, y0, x1, y1 in boxes:
        xs, ys = warp_points(crs, 'EPSG:4326', [x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0])
        rings.append(list(zip(xs, ys)))
    return rings
