"""Unlabelled images for self-supervised pretraining: any folder of images, random crops of
the Blue Marble image that avoid the validation longitudes, and random crops of any raster
scene (16-bit, multi-band, with a nodata footprint) stretched to 8 bits."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from altair.datasets.scenes.load import cached_raster
from altair.datasets.scenes.sampling import Coverage, decimation, integral
from altair.errors import AltairError, DataError
from altair.fileio import cache_dir
from altair.raster.nodata import nodata_mask
from altair.raster.read import open_raster, read_bands, resolve_bands
from altair.registry import DATASETS
from altair.visualization.overlay import stretch_to_uint8

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')


class NoImagesError(AltairError, FileNotFoundError):
    """A folder without a single image."""


def scan_images(root: str | os.PathLike) -> tuple[list[Path], int]:
    """Every image file under ``root`` (recursively, sorted) and how many other files were
    skipped."""
    root = Path(root)
    if not root.is_dir():
        raise NoImagesError(f"image folder '{root}' does not exist")
    files = sorted(p for p in root.rglob('*') if p.is_file())
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    return images, len(files) - len(images)


@DATASETS.register_module()
class UnlabelledImageFolder(BaseDataset):
    """Every image under ``data_root`` (recursively), as ``{'img_path': ...}`` samples.

    Non-image files are skipped and counted in the log; a folder without images is an error
    naming it.
    """

    def __init__(self, data_root: str, pipeline: list = (), **kwargs) -> None:
        super().__init__(data_root=data_root, pipeline=list(pipeline), ann_file='',
                         serialize_data=False, **kwargs)

    def load_data_list(self) -> list[dict]:
        images, skipped = scan_images(self.data_root)
        if not images:
            raise NoImagesError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under "
                                f"'{self.data_root}' ({skipped} other files)")
        MMLogger.get_current_instance().info(
            f'{len(images)} images under {self.data_root}; skipped {skipped} non-image files')
        return [dict(img_path=str(p)) for p in images]


def allowed_spans(width: int, tile_size: int, val_columns: list[int]) -> list[tuple[int, int]]:
    """Pixel column ranges [x0, x1) of the image outside the validation tile columns."""
    spans, x0 = [], 0
    for c in sorted(val_columns):
        if c * tile_size > x0:
            spans.append((x0, c * tile_size))
        x0 = (c + 1) * tile_size
    if x0 < width:
        spans.append((x0, width))
    return spans


def random_crop_origin(rng: np.random.Generator, spans: list[tuple[int, int]], height: int,
                       crop: int) -> tuple[int, int]:
    """(y, x) of a ``crop``-sided square lying entirely inside one of ``spans``, each span
    weighted by how many positions it offers."""
    room = [max(0, x1 - x0 - crop + 1) for x0, x1 in spans]
    if not sum(room) or height < crop:
        raise ValueError(f'no {crop}-pixel crop fits outside the validation columns')
    k = int(rng.choice(len(spans), p=np.asarray(room) / sum(room)))
    return int(rng.integers(0, height - crop + 1)), spans[k][0] + int(rng.integers(0, room[k]))


@DATASETS.register_module()
class BlueMarbleCrops(BaseDataset):
    """``num_samples`` random ``crop_size`` squares of the Blue Marble image per epoch, never
    touching the validation longitude bands (``val_columns`` of ``meta.json``), so a backbone
    pretrained here has not seen the segmentation val region. Samples carry ``img`` (BGR
    uint8, as ``LoadImageFromFile`` gives) for the pipeline.
    """

    def __init__(self, data_root: str = 'data/bluemarble', crop_size: int = 224,
                 num_samples: int = 1000, pipeline: list = (), **kwargs) -> None:
        self.crop_size, self.num_samples = crop_size, num_samples
        super().__init__(data_root=data_root, pipeline=list(pipeline), ann_file='',
                         serialize_data=False, **kwargs)

    def load_data_list(self) -> list[dict]:
        import cv2
        root = Path(self.data_root)
        meta = json.loads((root / 'meta.json').read_text())
        image = cv2.imread(str(root / 'bluemarble_rgb.tif'), cv2.IMREAD_COLOR)  # BGR
        if image is None:
            raise NoImagesError(f"cannot read '{root / 'bluemarble_rgb.tif'}'; build the "
                                'dataset with tools/dataset_converters/bluemarble.py')
        self._image = image
        self._spans = allowed_spans(image.shape[1], meta['tile_size'], meta['val_columns'])
        return [dict(sample_idx=i) for i in range(self.num_samples)]

    def prepare_data(self, idx: int):
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        y, x = random_crop_origin(rng, self._spans, self._image.shape[0], self.crop_size)
        img = self._image[y:y + self.crop_size, x:x + self.crop_size].copy()
        return self.pipeline(dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                                  sample_idx=idx, crop_origin=(y, x)))


def cache_or_user_path(path: str | os.PathLike) -> str:
    """``cache://REL`` → ``fileio.cache_dir() / REL``; other paths with ``~`` expanded."""
    path = str(path)
    if path.startswith('cache://'):
        return str(cache_dir() / path[len('cache://'):])
    return os.path.expanduser(path)


@DATASETS.register_module()
class RasterCrops(BaseDataset):
    """``num_samples`` random ``crop_size`` squares per epoch of one raster scene of any dtype
    (a 16-bit GeoTIFF, say), as BGR uint8 like ``BlueMarbleCrops``, so other real unlabelled
    imagery can join a pretraining through mmengine's ``ConcatDataset``.

    Args:
        path: the raster (read through rasterio, window by window); ``cache://REL`` is REL
            inside Altair's cache (``$ALTAIR_CACHE``, else ``~/.cache/altair``: where
            ``make install`` keeps the sample scenes); ``~`` is expanded.
        bands: the red, green and blue bands, 1-based indices or descriptions.
        percentiles: each band is stretched to 8 bits between these percentiles of the
            scene's valid pixels (estimated once on a decimated read, so one scene keeps one
            brightness scale across crops).
        nodata: the value of pixels outside the footprint (default: the file's own);
            a crop holds at most ``1 - min_valid_fraction`` of them (the best of 50 draws
            otherwise).
    """

    def __init__(self, path: str, *, bands: tuple = (1, 2, 3), crop_size: int = 224,
                 num_samples: int = 1000, percentiles: tuple[float, float] = (2.0, 98.0),
                 nodata: float | None = None, min_valid_fraction: float = 0.95,
                 pipeline: list = (), **kwargs) -> None:
        self.path, self.bands = cache_or_user_path(path), tuple(bands)
        self.crop_size, self.num_samples = crop_size, num_samples
        self.percentiles, self.nodata = percentiles, nodata
        self.min_valid_fraction = min_valid_fraction
        super().__init__(pipeline=list(pipeline), ann_file='', serialize_data=False, **kwargs)

    def load_data_list(self) -> list[dict]:
        if len(self.bands) != 3:
            raise DataError(f"RasterCrops '{self.path}': bands must name the red, green and "
                            f'blue bands (3 of them), got {self.bands!r}')
        with open_raster(self.path) as src:
            self._band_ids = resolve_bands(src, self.bands)
            if self.nodata is None:
                self.nodata = src.nodata
            h, w = src.height, src.width
            if min(h, w) < self.crop_size:
                raise DataError(f"raster '{self.path}' ({h}x{w}) is smaller than crop_size "
                                f'{self.crop_size}')
            f = decimation(h, w)
            small = read_bands(src, self._band_ids, out_shape=(-(-h // f), -(-w // f)))
        valid = ~nodata_mask(small, self.nodata)
        if not valid.any():
            raise DataError(f"raster '{self.path}' has no valid pixel (nodata {self.nodata})")
        self._low, self._high = np.percentile(small[valid].astype(np.float64),
                                              self.percentiles, axis=0)
        self._coverage = Coverage(integral(valid), f, h, w)
        return [dict(sample_idx=i) for i in range(self.num_samples)]

    def _origin(self, rng: np.random.Generator) -> tuple[int, int]:
        """(y, x) of a crop with enough valid pixels (the best of 50 draws otherwise)."""
        cov, c = self._coverage, self.crop_size
        best, best_frac = (0, 0), -1.0
        for _ in range(50):
            y = int(rng.integers(0, cov.height - c + 1))
            x = int(rng.integers(0, cov.width - c + 1))
            frac = cov.fraction(y, x, c, c)
            if frac >= self.min_valid_fraction:
                return y, x
            if frac > best_frac:
                best, best_frac = (y, x), frac
        return best

    def prepare_data(self, idx: int):
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        y, x = self._origin(rng)
        c = self.crop_size
        rgb = read_bands(cached_raster(self.path), self._band_ids, (x, y, c, c))
        img = np.ascontiguousarray(stretch_to_uint8(rgb, self._low, self._high)[..., ::-1])
        return self.pipeline(dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                                  sample_idx=idx, crop_origin=(y, x)))
