"""Reading scenes through rasterio: bands, windows, nodata, labels aligned onto the image grid.

Pure functions over open rasterio datasets and NumPy arrays; the dataset and the
``LoadRaster`` transform only call them. Band indices are 1-based, as in rasterio and GDAL.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from altair.errors import DataError, DataNotFoundError


class BandError(DataError):
    """A band index or description that the file does not have."""


class LabelAlignmentError(DataError):
    """Labels that cannot be placed on the image grid (no overlap, no CRS, other size)."""


class VectorLabelError(DataError):
    """Vector labels without the class attribute, or with values that are not classes."""


class LabelValueError(DataError):
    """Label values that are not in the classes (or the classes sidecar)."""


def open_raster(path: str | os.PathLike):
    """``rasterio.open`` with a one-line error for a missing or unreadable file."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
    import warnings

    if not os.path.isfile(path):
        raise DataNotFoundError(f"raster '{path}' does not exist")
    from altair.inference.raster import truncated_tiff, truncation_message
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioIOError as exc:
        reason = (str(exc).strip().splitlines() or ['unreadable'])[0]
        raise DataError(f"cannot read raster '{path}': {reason}; the file may be truncated or "
                        'not a raster') from None
    try:
        short = truncated_tiff(src, path)
    except BaseException:
        src.close()
        raise
    if short is not None:  # refused on opening, before any window of it is read
        src.close()
        raise DataError(truncation_message('raster', path, short))
    return src


def resolve_bands(src, bands: Sequence[int | str] | None) -> list[int]:
    """1-based band indices of ``bands`` (indices, or descriptions matched case-insensitively);
    every band when ``None``.

    Raises:
        BandError: an index outside ``1..count`` or a description the file does not have.
    """
    if bands is None:
        return list(range(1, src.count + 1))
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
    with _read_errors(src):
        data = src.read(list(bands), window=win, out_shape=shape)
    return np.moveaxis(data, 0, -1)


@contextmanager
def _read_errors(src):
    """A pixel read of ``src`` that fails (a truncated or corrupt file) as one
    :class:`DataError` line naming the file."""
    from rasterio.errors import RasterioIOError, WarpOperationError

    from altair.inference.raster import read_error_message
    try:
        yield
    except (RasterioIOError, WarpOperationError) as exc:
        raise DataError(read_error_message('raster', src.name, exc)) from None


def nodata_mask(img: np.ndarray, nodata: float | None) -> np.ndarray:
    """(H, W) bool of (H, W, C) ``img``: pixels whose every band equals ``nodata``, or that
    have a NaN band (``altair.inference.nodata.invalid_pixels`` on the bands-first view)."""
    from altair.inference.nodata import invalid_pixels
    return invalid_pixels(np.moveaxis(img, -1, 0), nodata)


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
        from rasterio.windows import Window, transform as window_transform
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


def to_classes(raw: np.ndarray, *, nodata: float | None, ignore_index: int = 255,
               classes_of: dict[int, int] | None = None, source: str = 'labels') -> np.ndarray:
    """Raw label values (float, NaN = outside the labels) to (H, W) uint8 class indices.

    Values map to themselves, or through ``classes_of`` ({raw value: class index}); NaN, the
    label's ``nodata`` and ``ignore_index`` itself (unless ``classes_of`` maps it) become
    ``ignore_index``.

    Raises:
        LabelValueError: values that are not whole numbers, outside 0-255 without a mapping,
            or missing from ``classes_of``.
    """
    bad = ~np.isfinite(raw)
    if nodata is not None and np.isfinite(nodata):
        bad |= raw == nodata
    if classes_of is not None and ignore_index not in classes_of:
        bad |= raw == ignore_index  # mmseg's convention: 255 = not labelled
    vals = raw[~bad]
    out = np.full(raw.shape, ignore_index, np.uint8)
    if not vals.size:
        return out
    if (vals != np.round(vals)).any():
        raise LabelValueError(f"{source} hold non-integer values (e.g. {vals[vals != np.round(vals)][0]:g}); "
                              'labels must be class values')
    ints = vals.astype(np.int64)
    if classes_of is None:
        if ints.min() < 0 or ints.max() > 255:
            raise LabelValueError(
                f'{source} hold value {int(ints.min() if ints.min() < 0 else ints.max())}; '
                'class indices are 0-254 (255 = ignore): map the values to classes with a '
                'classes.json sidecar')
        out[~bad] = ints
        return out
    keys = np.array(sorted(classes_of), np.int64)
    pos = np.clip(np.searchsorted(keys, ints), 0, len(keys) - 1)
    unknown = keys[pos] != ints
    if unknown.any():
        missing = ', '.join(str(v) for v in np.unique(ints[unknown])[:8])
        raise LabelValueError(f'{source} hold values {missing} that the classes do not list '
                              f'({", ".join(str(k) for k in keys)}); add them to the classes '
                              'sidecar (classes.json) or set them to the nodata value')
    values = np.array([classes_of[k] for k in keys.tolist()], np.uint8)
    out[~bad] = values[pos]
    return out


def read_label_raster(lab, image: Grid, *, label_grid: Grid | None = None) -> np.ndarray:
    """Band 1 of the label raster ``lab`` on ``image``'s grid as float64 (H, W), NaN where the
    labels do not reach. Read directly when both share a pixel grid (identical CRS and
    transform, or two plain rasters), else reprojected with nearest neighbour."""
    label_grid = label_grid or scene_grid(lab)
    with _read_errors(lab):
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
