"""Image sources the sliding-window engine reads windows from.

GeoTIFF / BigTIFF (and anything else GDAL opens) are read window by window through rasterio,
so an image far larger than memory is never loaded whole. PNG / JPEG and other ordinary
images are decoded with OpenCV (into RGB band order, like a GeoTIFF's).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from altair.inference.sliding import TensorSource

RASTER_SUFFIXES = ('.tif', '.tiff', '.vrt', '.img', '.jp2')
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.webp')


class UnsupportedImageError(ValueError):
    """A file that is not an image Altair can read."""


class ImageNotFoundError(FileNotFoundError):
    """An image path or folder that does not exist or holds no image."""


class RasterSource:
    """A raster file read by windows. Bands are returned in file order as float32.

    Attributes:
        shape: (bands, height, width).
        dtype: the file's data type name (e.g. ``'uint8'``, ``'uint16'``, ``'float32'``).
        transform, crs: georeferencing (``None`` CRS for plain images).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import rasterio

        self.path = Path(path)
        if not self.path.is_file():
            raise ImageNotFoundError(f"image '{self.path}' does not exist")
        try:
            self._ds = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as exc:
            raise UnsupportedImageError(f"cannot read '{self.path}' as a raster: {exc}") from None
        self.shape = (self._ds.count, self._ds.height, self._ds.width)
        self.dtype = self._ds.dtypes[0]
        self.transform = self._ds.transform
        self.crs = self._ds.crs

    def read(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        from rasterio.windows import Window

        data = self._ds.read(window=Window(x0, y0, x1 - x0, y1 - y0))
        return torch.from_numpy(data.astype(np.float32, copy=False))

    def thumbnail(self, step: int) -> np.ndarray:
        """(C, ceil(H / step), ceil(W / step)) every ``step``-th pixel (GDAL decimation, file
        dtype): a preview without reading the full image into memory."""
        from rasterio.enums import Resampling
        c, h, w = self.shape
        return self._ds.read(out_shape=(c, -(-h // step), -(-w // step)),
                             resampling=Resampling.nearest)

    def close(self) -> None:
        self._ds.close()

    def __enter__(self) -> 'RasterSource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ArraySource(TensorSource):
    """An ordinary image decoded in memory (H, W[, C]) → bands in RGB(A) order."""

    def __init__(self, path: str | os.PathLike) -> None:
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise ImageNotFoundError(f"image '{self.path}' does not exist")
        img = cv2.imread(str(self.path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise UnsupportedImageError(f"cannot decode '{self.path}' as an image")
        if img.ndim == 2:
            img = img[:, :, None]
        elif img.shape[2] in (3, 4):  # OpenCV decodes BGR(A)
            img = img[:, :, [2, 1, 0, 3][:img.shape[2]]]
        self.dtype = img.dtype.name
        super().__init__(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))))
        self.transform = None
        self.crs = None


def raster_env(cache_mb: int = 128):
    """A rasterio environment whose GDAL block cache is capped at ``cache_mb``.

    GDAL's default cache is 5 % of RAM (1.2 GB here); blocks of a huge input or output
    would otherwise pile up to that size and dominate peak memory.
    """
    import rasterio
    return rasterio.Env(GDAL_CACHEMAX=cache_mb)


def open_image(path: str | os.PathLike) -> RasterSource | ArraySource:
    """Open ``path`` as a windowed raster (GeoTIFF & co.) or a decoded image (PNG/JPEG/...)."""
    suffix = Path(path).suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return RasterSource(path)
    if suffix in IMAGE_SUFFIXES:
        return ArraySource(path)
    raise UnsupportedImageError(
        f"'{path}': unsupported image type '{suffix}'; expected one of "
        f"{', '.join(RASTER_SUFFIXES + IMAGE_SUFFIXES)}")


def list_images(path: str | os.PathLike) -> list[Path]:
    """``path`` itself, or the images in a folder (sorted, recursively)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise ImageNotFoundError(f"image or folder '{p}' does not exist")
    found = sorted(q for q in p.rglob('*') if q.suffix.lower() in RASTER_SUFFIXES + IMAGE_SUFFIXES)
    if not found:
        raise ImageNotFoundError(f"no images ({', '.join(RASTER_SUFFIXES + IMAGE_SUFFIXES)}) "
                                f"under '{p}'")
    return found
