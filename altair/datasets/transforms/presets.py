"""Augmentation presets: ``light``, ``medium``, ``heavy``, ``medical``, ``satellite``,
``overhead``.

Each preset is a list of albumentations transforms (``PRESETS``), applied by the registered
``AugPreset`` transform to the image and its mask together: masks are warped with nearest
interpolation and areas padded by a geometric transform get the ignore index. Any dtype and
band count goes in: the image is scaled to float32 in [0, 1] (by 255 for uint8, 65535 for
uint16, floats from their own min/max), augmented, and returned in its own dtype, because
albumentations 2.0.8 lacks uint16 support in several intensity transforms and lets
``RandomGamma`` turn uint16 into float64 (measured). Three transforms no well-kept library
offers for any band count are written here as pure functions with thin albumentations
wrappers: per-band brightness/contrast, haze and clouds, and a smooth multiplicative bias field.
"""
from __future__ import annotations

from typing import Callable

import albumentations as A
import cv2
import numpy as np

from altair.errors import AltairError

IGNORE_INDEX = 255


# ---- pure functions (float32 images in [0, 1], H x W x C)
def smooth_field(rng: np.random.Generator, height: int, width: int, cells: int = 4
                 ) -> np.ndarray:
    """(H, W) float32 smooth random field in [0, 1]: uniform noise on a ``cells`` x ``cells``
    grid, upsampled bicubically and rescaled to span [0, 1]."""
    coarse = rng.random((cells, cells)).astype(np.float32)
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / max(hi - lo, 1e-6)


def per_band_brightness_contrast(img: np.ndarray, brightness: np.ndarray,
                                 contrast: np.ndarray) -> np.ndarray:
    """Band b becomes ``(x - mean_b) * contrast[b] + mean_b + brightness[b]``, clipped to
    [0, 1] (sensor gain and offset differ per band in multispectral imagery)."""
    mean = img.mean(axis=(0, 1), keepdims=True)
    out = (img - mean) * contrast.reshape(1, 1, -1) + mean + brightness.reshape(1, 1, -1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def haze_and_clouds(img: np.ndarray, field: np.ndarray, *, haze: float, cover: float,
                    brightness: float = 0.9, softness: float = 0.15) -> np.ndarray:
    """Blend every band towards ``brightness``: uniformly by ``haze`` and, where the smooth
    ``field`` exceeds ``1 - cover``, by up to 1 (clouds with soft edges ``softness`` wide)."""
    cloud = np.clip((field - (1.0 - cover)) / softness, 0.0, 1.0)
    alpha = np.clip(haze + (1.0 - haze) * cloud, 0.0, 1.0)[..., None]
    return (img * (1.0 - alpha) + brightness * alpha).astype(np.float32)


def bias_field(img: np.ndarray, field: np.ndarray, strength: float) -> np.ndarray:
    """Multiply by a smooth field between ``1 - strength`` and ``1 + strength``, the slow
    intensity drift of MRI coils and uneven slide illumination; clipped to [0, 1]."""
    gain = 1.0 + strength * (2.0 * field - 1.0)
    return np.clip(img * gain[..., None], 0.0, 1.0).astype(np.float32)


def to_unit_range(img: np.ndarray) -> tuple[np.ndarray, tuple]:
    """(H, W[, C]) image → (H, W, C) float32 in [0, 1] and what :func:`from_unit_range` needs
    to undo it: integers are divided by their dtype's maximum, floats (e.g. CT numbers) are
    mapped from their own [min, max]."""
    x = img[..., None] if img.ndim == 2 else img
    if np.issubdtype(img.dtype, np.integer):
        lo, span = 0.0, float(np.iinfo(img.dtype).max)
    else:
        lo = float(x.min()) if x.size else 0.0
        span = max(float(x.max()) - lo, 1e-12) if x.size else 1.0
    return ((x.astype(np.float32) - lo) / span).astype(np.float32), (img.dtype, lo, span,
                                                                     img.ndim)


def from_unit_range(x: np.ndarray, info: tuple) -> np.ndarray:
    """Inverse of :func:`to_unit_range` (rounded and clipped for integer dtypes)."""
    dtype, lo, span, ndim = info
    x = x.astype(np.float64) * span + lo
    if np.issubdtype(dtype, np.integer):
        x = np.clip(np.rint(x), 0, np.iinfo(dtype).max)
    x = x.astype(dtype)
    return x[..., 0] if ndim == 2 else x


# ---- thin albumentations wrappers (seeded by the Compose's generator)
class PerBandBrightnessContrast(A.ImageOnlyTransform):
    """Random per-band gain and offset (see :func:`per_band_brightness_contrast`)."""

    def __init__(self, brightness_limit: float = 0.1, contrast_limit: float = 0.15,
                 p: float = 0.5) -> None:
        super().__init__(p=p)
        self.brightness_limit, self.contrast_limit = brightness_limit, contrast_limit

    def get_params_dependent_on_data(self, params, data):
        bands = data['image'].shape[-1]
        rng = self.random_generator
        return dict(brightness=rng.uniform(-self.brightness_limit, self.brightness_limit, bands),
                    contrast=rng.uniform(1 - self.contrast_limit, 1 + self.contrast_limit, bands))

    def apply(self, img, brightness, contrast, **params):
        return per_band_brightness_contrast(img, brightness, contrast)


class HazeClouds(A.ImageOnlyTransform):
    """Uniform haze up to ``max_haze`` and soft cloud blobs over up to ``max_cover`` of the
    image (see :func:`haze_and_clouds`)."""

    def __init__(self, max_haze: float = 0.3, max_cover: float = 0.4, p: float = 0.3) -> None:
        super().__init__(p=p)
        self.max_haze, self.max_cover = max_haze, max_cover

    def get_params_dependent_on_data(self, params, data):
        h, w = data['image'].shape[:2]
        rng = self.random_generator
        return dict(field=smooth_field(rng, h, w), haze=rng.uniform(0, self.max_haze),
                    cover=rng.uniform(0, self.max_cover))

    def apply(self, img, field, haze, cover, **params):
        return haze_and_clouds(img, field, haze=haze, cover=cover)


class BiasField(A.ImageOnlyTransform):
    """Smooth multiplicative shading of up to ± ``max_strength`` (see :func:`bias_field`)."""

    def __init__(self, max_strength: float = 0.3, p: float = 0.3) -> None:
        super().__init__(p=p)
        self.max_strength = max_strength

    def get_params_dependent_on_data(self, params, data):
        h, w = data['image'].shape[:2]
        rng = self.random_generator
        return dict(field=smooth_field(rng, h, w, cells=3),
                    strength=rng.uniform(0, self.max_strength))

    def apply(self, img, field, strength, **params):
        return bias_field(img, field, strength)


# ---- the presets: name → builder(ignore_index) → transforms (the crop is added by AugPreset)
def _light(ignore: int) -> list:
    return [A.HorizontalFlip(p=0.5),
            A.Affine(rotate=(-10, 10), scale=(0.75, 1.25), fill=0, fill_mask=ignore, p=0.7)]


def _medium(ignore: int) -> list:
    return _light(ignore) + [
        A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05, p=0.5),
        A.ElasticTransform(alpha=30, sigma=6, p=0.25)]


def _heavy(ignore: int) -> list:
    return [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.2),
            A.Affine(rotate=(-30, 30), scale=(0.5, 1.5), shear=(-10, 10), fill=0,
                     fill_mask=ignore, p=0.8),
            A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1, p=0.6),
            A.ElasticTransform(alpha=30, sigma=6, p=0.25),
            A.GridDistortion(num_steps=5, distort_limit=0.3, p=0.25),
            A.CoarseDropout(num_holes_range=(1, 6), hole_height_range=(0.05, 0.2),
                            hole_width_range=(0.05, 0.2), fill=0, p=0.5),
            A.GaussianBlur(blur_limit=(3, 7), p=0.2),
            A.GaussNoise(std_range=(0.02, 0.1), p=0.3)]


def _medical(ignore: int) -> list:
    return [A.HorizontalFlip(p=0.5),
            A.Affine(rotate=(-15, 15), scale=(0.85, 1.15), fill=0, fill_mask=ignore, p=0.5),
            A.ElasticTransform(alpha=40, sigma=6, p=0.3),
            A.RandomGamma(gamma_limit=(70, 150), p=0.5),
            A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.25, p=0.5),
            A.GaussNoise(std_range=(0.01, 0.05), p=0.3),
            BiasField(max_strength=0.3, p=0.3)]


def _satellite(ignore: int) -> list:
    return [A.D4(p=1.0),
            A.Affine(scale=(0.75, 1.25), fill=0, fill_mask=ignore, p=0.5),
            PerBandBrightnessContrast(brightness_limit=0.1, contrast_limit=0.15, p=0.5),
            HazeClouds(max_haze=0.3, max_cover=0.4, p=0.3)]


def _overhead(ignore: int) -> list:
    """satellite's geometry without its photometry: the pixels' values stay what the sensor
    measured, for tasks a pixel's spectrum decides."""
    return [A.D4(p=1.0), A.Affine(scale=(0.75, 1.25), fill=0, fill_mask=ignore, p=0.5)]


PRESETS: dict[str, Callable[[int], list]] = dict(
    light=_light, medium=_medium, heavy=_heavy, medical=_medical, satellite=_satellite,
    overhead=_overhead)
# ColorJitter (hue, saturation) is defined for 1- and 3-band images only
RGB_ONLY = ('medium', 'heavy')


class UnknownPresetError(AltairError, KeyError):
    """A preset name that does not exist."""


def build_preset(name: str, *, crop_size: tuple[int, int] | None = None,
                 ignore_index: int = IGNORE_INDEX, seed: int | None = None) -> A.Compose:
    """The albumentations ``Compose`` of preset ``name``, ending with a random crop of
    ``crop_size`` (padded with the ignore index where the image is smaller) when given."""
    if name not in PRESETS:
        raise UnknownPresetError(f"unknown preset '{name}'; choose one of "
                                 f"{', '.join(PRESETS)}")
    transforms = PRESETS[name](ignore_index)
    if crop_size is not None:
        h, w = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
        transforms.append(A.RandomCrop(h, w, pad_if_needed=True, fill=0,
                                       fill_mask=ignore_index, p=1.0))
    return A.Compose(transforms, seed=seed)
