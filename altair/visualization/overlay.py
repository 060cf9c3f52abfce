"""Colour label maps with a palette and blend them over an image."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def colorize(labels: np.ndarray, palette: Sequence[Sequence[int]], *,
             ignore_color: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """(H, W) class indices → (H, W, 3) uint8 RGB; indices outside the palette get ``ignore_color``."""
    lut = np.tile(np.asarray(ignore_color, dtype=np.uint8), (256, 1))
    lut[:len(palette)] = np.asarray(palette, dtype=np.uint8)
    if labels.dtype != np.uint8:
        labels = np.where((labels >= 0) & (labels < 256), labels, 255).astype(np.uint8)
    return lut[labels]


def blend(rgb: np.ndarray, color: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``(1 - alpha) * rgb + alpha * color`` as uint8 (both (H, W, 3))."""
    if rgb.shape != color.shape:
        raise ValueError(f'image {rgb.shape} and colour map {color.shape} differ in shape')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    out = (1.0 - alpha) * rgb.astype(np.float32) + alpha * color.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def stretch_to_uint8(img: np.ndarray, low, high) -> np.ndarray:
    """(..., C) image of any dtype → uint8: band ``c`` mapped linearly from
    ``[low[c], high[c]]`` onto ``[0, 255]``, clipped and rounded."""
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    scaled = (img.astype(np.float32) - low) / np.maximum(high - low, 1e-6) * 255
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def to_display_rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) image of any band count and dtype → (H, W, 3) uint8 for display.

    One or two bands: the first as grey; three or more: the first three as RGB. uint8 stays
    as it is; other dtypes (uint16, float) are stretched per band between the 2nd and 98th
    percentiles, the usual stretch for satellite and medical images.
    """
    if image.ndim != 3:
        raise ValueError(f'image must be (C, H, W), got shape {image.shape}')
    bands = image[:3] if image.shape[0] >= 3 else np.repeat(image[:1], 3, axis=0)
    if bands.dtype != np.uint8:
        out = np.empty(bands.shape, np.uint8)
        for i, band in enumerate(bands.astype(np.float32)):
            lo, hi = np.percentile(band, (2, 98)) if band.size else (0.0, 1.0)
            out[i] = stretch_to_uint8(band, lo, hi)
        bands = out
    return np.ascontiguousarray(bands.transpose(1, 2, 0))


def colorize_scalar(values: np.ndarray, *, vmin: float | None = None,
                    vmax: float | None = None, cmap: str = 'magma') -> np.ndarray:
    """(H, W) floats → (H, W, 3) uint8 through a matplotlib colour map, stretched between
    ``vmin`` and ``vmax`` (default: the finite values' range); NaN (nodata) is black."""
    from matplotlib import colormaps
    finite = np.isfinite(values)
    lo = float(np.min(values[finite])) if vmin is None and finite.any() else (vmin or 0.0)
    hi = float(np.max(values[finite])) if vmax is None and finite.any() else (vmax or 1.0)
    scaled = np.clip((np.where(finite, values, lo) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    rgb = (colormaps[cmap](scaled)[..., :3] * 255).round().astype(np.uint8)
    rgb[~finite] = 0
    return rgb


def default_palette(n: int) -> list[tuple[int, int, int]]:
    """``n`` seeded random colours: the palette of a model whose classes have none."""
    rng = np.random.default_rng(42)
    return [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(n)]


SWATCH = 12  # legend: the side of a class's colour square, px
ROW = 18  # legend: the height of a row of entries, px


def legend(names: Sequence[str], palette: Sequence[Sequence[int]], width: int) -> np.ndarray:
    """(h, ``width``, 3) uint8 strip naming each class beside a square of its colour, black
    on white, entries left to right and wrapped onto new rows at ``width`` (an entry wider
    than ``width`` gets a row of its own, its name cut at the edge)."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default()
    spots, x, y = [], 4, 0
    for name in names:
        w = SWATCH + 4 + int(font.getlength(str(name))) + 12
        if x > 4 and x + w > width:
            x, y = 4, y + ROW
        spots.append((x, y))
        x += w
    strip = Image.new('RGB', (width, y + ROW), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for (x, y), name, colour in zip(spots, names, palette):
        top = y + (ROW - SWATCH) // 2
        draw.rectangle([x, top, x + SWATCH - 1, top + SWATCH - 1],
                       fill=tuple(int(c) for c in colour))
        draw.text((x + SWATCH + 4, top - 1), str(name), fill=(0, 0, 0), font=font)
    return np.asarray(strip)


def with_legend(rgb: np.ndarray, names: Sequence[str] | None,
                palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W, 3) ``rgb`` with :func:`legend` of the palette's classes under it (``class i``
    where the model names none)."""
    names = list(names) if names else [f'class {i}' for i in range(len(palette))]
    return np.concatenate([rgb, legend(names, palette[:len(names)], rgb.shape[1])])
