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
