"""Image sources the sliding-window engine reads windows from: a tensor, a raster, an image.

GeoTIFF / BigTIFF (and anything else GDAL opens) are read window by window through rasterio,
so an image far larger than memory is never loaded whole. PNG / JPEG and other ordinary
images are decoded with OpenCV (into RGB band order, like a GeoTIFF's).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
import torch
from torch import Tensor

from altair.raster.errors import ImageNotFoundError, ImageReadError, UnsupportedImageError
from altair.raster.formats import IMAGE_SUFFIXES, PICTURE_SUFFIXES, RASTER_SUFFIXES
from altair.raster.nodata import check_nodata, fill_invalid, invalid_pixels
from altair.raster.read import (read_error_message, resolve_bands, truncated_tiff,
                                truncation_message)


class ImageSource(Protocol):
    """What the sliding-window engine reads windows from: :class:`TensorSource`,
    :class:`RasterSource`, :class:`ArraySource`."""

    shape: tuple[int, int, int]  # (C, H, W)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        """(C, y1 - y0, x1 - x0) float32 tensor of the region."""


class TensorSource:
    """An in-memory (C, H, W) tensor as an :class:`ImageSource`.

    With ``nodata`` (or a floating tensor, where NaN is nodata) :attr:`masked` is True and
    :meth:`read_valid` tells where the data is; :meth:`read` then sets nodata pixels to
    ``fill`` (one value per band or one for all; without a fill only NaN is replaced, by 0).
    """

    def __init__(self, image: Tensor, *, nodata: float | None = None, fill=None) -> None:
        if image.ndim != 3:
            raise ValueError(f'image must be (C, H, W), got shape {tuple(image.shape)}')
        self.image = image
        self.shape = tuple(image.shape)
        self.nodata, self.fill = nodata, fill
        self.masked = nodata is not None or bool(
            image.is_floating_point() and torch.isnan(image).any())

    def _bad(self, y0: int, y1: int, x0: int, x1: int):
        return invalid_pixels(self.image[:, y0:y1, x0:x1].cpu().numpy(), self.nodata)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        region = self.image[:, y0:y1, x0:x1].float()
        if not self.masked:
            return region
        data = fill_invalid(region.cpu().numpy().copy(), self._bad(y0, y1, x0, x1), self.fill)
        return torch.from_numpy(data).to(region.device)

    def read_valid(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        """(y1 - y0, x1 - x0) bool: True where the region has data."""
        return torch.from_numpy(~self._bad(y0, y1, x0, x1))

    def thumbnail(self, step: int):
        """(C, ceil(H / step), ceil(W / step)) NumPy array of every ``step``-th pixel."""
        return self.image[:, ::step, ::step].cpu().numpy()

    def close(self) -> None:
        """Nothing to release (a file source closes its dataset)."""

    def __enter__(self) -> 'TensorSource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RasterSource:
    """A raster file read by windows. Bands are returned as float32, in file order.

    Nodata comes from ``nodata`` (overriding the file's), else the file's nodata value, else
    its alpha band or mask band, else ``default_nodata`` (e.g. the value a model was trained
    with); NaN is always nodata in float rasters. Then :attr:`masked`
    is True, :meth:`read_valid` tells where the data is, and :meth:`read` sets nodata pixels
    to ``fill`` (e.g. the training mean, as ``LoadRaster(fill=mean)`` did).

    Args:
        path: the raster.
        bands: 1-based band indices or descriptions (default: every band but an alpha band).
        nodata: nodata value (in the file's data type).
        fill: value of nodata pixels in :meth:`read` (one per band or one for all).

    Attributes:
        shape: (bands, height, width).
        dtype: the file's data type name (e.g. ``'uint8'``, ``'uint16'``, ``'float32'``).
        transform, crs: georeferencing (``None`` CRS for plain images).
        nodata: the nodata value in use, or None.
        masked: whether any pixel can be nodata.
    """

    def __init__(self, path: str | os.PathLike, *, bands=None, nodata: float | None = None,
                 fill=None, default_nodata: float | None = None) -> None:
        import rasterio
        from rasterio.enums import MaskFlags

        self.path = Path(path)
        if not self.path.is_file():
            raise ImageNotFoundError(f"image '{self.path}' does not exist")
        try:
            self._ds = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as exc:
            reason = (str(exc).strip().splitlines() or ['unreadable'])[0]
            raise UnsupportedImageError(f"cannot read '{self.path}' as a raster: {reason}; the "
                                        'file may be truncated or not an image') from None
        try:
            ds = self._ds
            short = truncated_tiff(ds, self.path)
            if short is not None:  # found now, not after outputs were started
                raise ImageReadError(truncation_message('image', self.path, short))
            self.dtype = ds.dtypes[0]
            self.bands = resolve_bands(ds, bands)
            self.nodata = check_nodata(nodata if nodata is not None else ds.nodata, self.dtype,
                                       self.path)
            flags = ds.mask_flag_enums[0] if ds.count else []
            self._dataset_mask = self.nodata is None and (
                MaskFlags.alpha in flags or MaskFlags.per_dataset in flags)
            if self.nodata is None and not self._dataset_mask:
                self.nodata = check_nodata(default_nodata, self.dtype, self.path)
        except BaseException:
            self._ds.close()
            raise
        self.masked = (self.nodata is not None or self._dataset_mask
                       or np.issubdtype(np.dtype(self.dtype), np.floating))
        self.fill = fill
        self.shape = (len(self.bands), ds.height, ds.width)
        self.transform = ds.transform
        self.crs = ds.crs
        self._last: tuple | None = None  # (region, data, bad) of the last region read

    def _region(self, y0: int, y1: int, x0: int, x1: int) -> tuple[np.ndarray, np.ndarray]:
        from rasterio.errors import RasterioIOError
        from rasterio.windows import Window

        key = (y0, y1, x0, x1)
        if self._last is not None and self._last[0] == key:
            return self._last[1], self._last[2]
        window = Window(x0, y0, x1 - x0, y1 - y0)
        try:
            data = self._ds.read(self.bands, window=window)
            bad = self._ds.dataset_mask(window=window) == 0 if self._dataset_mask else None
        except RasterioIOError as exc:
            raise ImageReadError(read_error_message('image', self.path, exc)) from None
        if bad is None:
            bad = (invalid_pixels(data, self.nodata) if self.masked
                   else np.zeros(data.shape[1:], bool))
        self._last = (key, data, bad)
        return data, bad

    def read(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        data, bad = self._region(y0, y1, x0, x1)
        data = data.astype(np.float32, copy=True)
        return torch.from_numpy(fill_invalid(data, bad, self.fill))

    def read_valid(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        """(y1 - y0, x1 - x0) bool: True where the region has data."""
        return torch.from_numpy(~self._region(y0, y1, x0, x1)[1])

    def thumbnail(self, step: int) -> np.ndarray:
        """(C, ceil(H / step), ceil(W / step)) every ``step``-th pixel (GDAL decimation, file
        dtype): a preview without reading the full image into memory."""
        from rasterio.enums import Resampling
        from rasterio.errors import RasterioIOError
        c, h, w = self.shape
        try:
            return self._ds.read(self.bands, out_shape=(c, -(-h // step), -(-w // step)),
                                 resampling=Resampling.nearest)
        except RasterioIOError as exc:
            raise ImageReadError(read_error_message('image', self.path, exc)) from None

    def close(self) -> None:
        self._ds.close()

    def __enter__(self) -> 'RasterSource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ArraySource(TensorSource):
    """An ordinary image decoded in memory (H, W[, C]) → bands in RGB(A) order."""

    def __init__(self, path: str | os.PathLike, *, nodata: float | None = None,
                 fill=None) -> None:
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise ImageNotFoundError(f"image '{self.path}' does not exist")
        img = cv2.imread(str(self.path), cv2.IMREAD_UNCHANGED)
        if img is None:
            if _cut_png(self.path):
                raise ImageReadError(f"image '{self.path}' is truncated: the PNG ends before "
                                     'its end chunk (a copy or download cut short?); copy it '
                                     'again')
            raise UnsupportedImageError(f"cannot decode '{self.path}' as an image")
        if img.ndim == 2:
            img = img[:, :, None]
        elif img.shape[2] in (3, 4):  # OpenCV decodes BGR(A)
            img = img[:, :, [2, 1, 0, 3][:img.shape[2]]]
        self.dtype = img.dtype.name
        super().__init__(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
                         nodata=check_nodata(nodata, self.dtype, self.path), fill=fill)
        self.transform = None
        self.crs = None


def _cut_png(path: Path) -> bool:
    """Whether ``path`` starts as a PNG but does not end with the PNG end chunk (IEND)."""
    with open(path, 'rb') as f:
        if f.read(8) != b'\x89PNG\r\n\x1a\n':
            return False
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 12))
        return f.read(12)[4:8] != b'IEND'


def raster_env(cache_mb: int = 128):
    """A rasterio environment whose GDAL block cache is capped at ``cache_mb``.

    GDAL's default cache is 5 % of RAM (1.2 GB here); blocks of a huge input or output
    would otherwise pile up to that size and dominate peak memory.
    """
    import rasterio
    return rasterio.Env(GDAL_CACHEMAX=cache_mb)


def open_image(path: str | os.PathLike, *, bands=None, nodata: float | None = None,
               fill=None, default_nodata: float | None = None) -> RasterSource | ArraySource:
    """Open ``path`` as a windowed raster (GeoTIFF & co.) or a decoded image (PNG/JPEG/...);
    ``bands`` (rasters only), ``nodata``, ``fill`` and ``default_nodata`` as in
    :class:`RasterSource`."""
    suffix = Path(path).suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return RasterSource(path, bands=bands, nodata=nodata, fill=fill,
                            default_nodata=default_nodata)
    if suffix in IMAGE_SUFFIXES:
        return ArraySource(path, nodata=nodata if nodata is not None else default_nodata,
                           fill=fill)
    raise UnsupportedImageError(
        f"'{path}': unsupported image type '{suffix}'; expected one of "
        f"{', '.join(PICTURE_SUFFIXES)}")


def output_stems(paths: Sequence[Path]) -> list[str]:
    """A distinct output name per image: its stem, or where two images share a stem (the same
    name in two sub-folders, or ``x.tif`` beside ``x.png``) its path below the images' common
    folder with ``/`` as ``_`` (``a/x.tif`` -> ``a_x``), and the suffix too if still needed."""
    stems = [p.stem for p in paths]
    clash = {s for s in stems if stems.count(s) > 1}
    if not clash:
        return stems
    parts = [Path(os.path.abspath(p)) for p in paths]
    common = Path(os.path.commonpath([p.parent for p in parts]))
    names = [s if s not in clash else '_'.join(p.relative_to(common).with_suffix('').parts)
             for s, p in zip(stems, parts)]
    return [n if names.count(n) == 1 else f'{n}_{p.suffix.lstrip(".").lower()}'
            for n, p in zip(names, parts)]


def list_images(path: str | os.PathLike) -> list[Path]:
    """``path`` itself, or the images in a folder (sorted, recursively)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise ImageNotFoundError(f"image or folder '{p}' does not exist")
    found = sorted(q for q in p.rglob('*') if q.suffix.lower() in PICTURE_SUFFIXES)
    if not found:
        raise ImageNotFoundError(f"no images ({', '.join(PICTURE_SUFFIXES)}) "
                                f"under '{p}'")
    return found
