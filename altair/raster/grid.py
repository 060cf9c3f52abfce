"""Where an image lies (its CRS, transform and size), and labels placed on an image's grid:
read directly where both share a pixel grid, else reprojected with nearest neighbour."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from altair.raster.errors import LabelAlignmentError
from altair.raster.read import read_errors


@dataclass(frozen=True)
class Grid:
    """Where an image lies: its CRS (``None`` when it has none), affine transform and size."""
    crs: Any
    transform: Any
    width: int
    height: int
    offset: tuple[int, int] = (0, 0)  # (col, row) of this window in its scene

    def window(self, window: tuple[int, int, int, int] | None) -> 'Grid':
        """The grid of ``window`` ``(col, row, width, height)`` of this grid."""
        if window is None:
            return self
        from rasterio.windows import Window
        from rasterio.windows import transform as window_transform
        col, row, w, h = window
        return Grid(self.crs, window_transform(Window(col, row, w, h), self.transform), w, h,
                    (self.offset[0] + col, self.offset[1] + row))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        from rasterio.transform import array_bounds
        return array_bounds(self.height, self.width, self.transform)  # west, south, east, north


def scene_grid(src, *, crs: Any = None, bounds: Sequence[float] | None = None) -> Grid:
    """The grid of ``src``; ``crs`` and ``bounds`` (west, south, east, north) georeference an
    image that has none (a plain JPEG of a known extent)."""
    from rasterio.crs import CRS
    from rasterio.transform import from_bounds

    if bounds is not None:
        transform = from_bounds(*bounds, src.width, src.height)
        return Grid(CRS.from_user_input(crs) if crs else src.crs, transform, src.width,
                    src.height)
    if crs is not None:
        return Grid(CRS.from_user_input(crs), src.transform, src.width, src.height)
    return Grid(src.crs, src.transform, src.width, src.height)


def _is_identity(transform) -> bool:
    return transform is None or transform.is_identity


def check_label_grid(image: Grid, label: Grid, image_path: str, label_path: str) -> None:
    """Refuse labels that cannot be placed on the image.

    Raises:
        LabelAlignmentError: georeferenced labels with an image without a CRS (or the
            reverse), labels whose footprint misses the image, or two plain rasters of
            different sizes.
    """
    if image.crs is None and label.crs is not None:
        raise LabelAlignmentError(
            f"image '{image_path}' has no CRS but its labels '{label_path}' are georeferenced "
            f'({label.crs.to_string()}); georeference the image, or give the scene its crs and '
            "bounds in the config (scenes=[dict(img=..., ann=..., crs='EPSG:4326', "
            'bounds=(west, south, east, north))])')
    if image.crs is not None and label.crs is None and not _is_identity(label.transform):
        raise LabelAlignmentError(
            f"labels '{label_path}' have a transform but no CRS while image '{image_path}' is "
            f'in {image.crs.to_string()}; set the CRS of the labels')
    if image.crs is None or label.crs is None:
        if (image.width, image.height) != (label.width, label.height):
            raise LabelAlignmentError(
                f"labels '{label_path}' are {label.width}x{label.height} but image "
                f"'{image_path}' is {image.width}x{image.height}, and neither is georeferenced "
                'to align them; give labels of the image size')
        return
    from rasterio.warp import transform_bounds
    # the image's footprint in the labels' CRS: labels often cover far more (a global
    # lon/lat land-cover map has no sensible extent in a UTM zone)
    iw, is_, ie, in_ = transform_bounds(image.crs, label.crs, *image.bounds, densify_pts=21)
    lw, ls, le, ln = label.bounds
    if lw >= ie or le <= iw or ls >= in_ or ln <= is_:
        raise LabelAlignmentError(
            f"labels '{label_path}' do not overlap image '{image_path}': the labels cover "
            f'({lw:.6g}, {ls:.6g}, {le:.6g}, {ln:.6g}) and the image ({iw:.6g}, {is_:.6g}, '
            f'{ie:.6g}, {in_:.6g}) in {label.crs.to_string()} (west, south, east, north); '
            'pair each image with the labels of the same area')


def read_label_raster(lab, image: Grid, *, label_grid: Grid | None = None) -> np.ndarray:
    """Band 1 of the label raster ``lab`` on ``image``'s grid as float64 (H, W), NaN where the
    labels do not reach. Read directly when both share a pixel grid (identical CRS and
    transform, or two plain rasters), else reprojected with nearest neighbour."""
    label_grid = label_grid or scene_grid(lab)
    with read_errors(lab):
        if image.crs is None or label_grid.crs is None:
            from rasterio.windows import Window
            win = Window(*image.offset, image.width, image.height)  # same pixels, same indices
            return lab.read(1, window=win, boundless=True, fill_value=np.nan,
                            out_dtype='float64')
        if image.crs == label_grid.crs and _same_pixels(image.transform, label_grid.transform):
            from rasterio.windows import from_bounds
            win = from_bounds(*image.bounds, transform=label_grid.transform)
            win = win.round_offsets().round_lengths()
            return lab.read(1, window=win, boundless=True, fill_value=np.nan,
                            out_dtype='float64')
        return _reproject_nearest(lab, image, label_grid)


def _same_pixels(a, b) -> bool:
    """Same pixel size and rotation, origins a whole number of pixels apart."""
    if not np.allclose([a.a, a.b, a.d, a.e], [b.a, b.b, b.d, b.e], rtol=1e-9, atol=0):
        return False
    col, row = ~b @ (a.c, a.f)
    return abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6


def _reproject_nearest(lab, image: Grid, label_grid: Grid) -> np.ndarray:
    import rasterio
    from rasterio.warp import Resampling, reproject

    dst = np.full((image.height, image.width), np.nan, np.float64)
    src_nodata = lab.nodata if lab.nodata is not None else None
    reproject(rasterio.band(lab, 1), dst, src_transform=label_grid.transform,
              src_crs=label_grid.crs, src_nodata=src_nodata, dst_transform=image.transform,
              dst_crs=image.crs, dst_nodata=np.nan, resampling=Resampling.nearest)
    return dst
