"""Nodata (pure functions): which pixels, what they are read as."""
from __future__ import annotations

import numpy as np

from altair.raster.errors import NodataValueError


def check_nodata(value: float | None, dtype: str, path) -> float | None:
    """``value`` if ``dtype`` can hold it (NaN only for floats), else :class:`NodataValueError`."""
    if value is None:
        return None
    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.floating):
        return float(value)
    info = np.iinfo(kind)
    if np.isnan(value) or not info.min <= value <= info.max or float(value) != int(value):
        raise NodataValueError(
            f"nodata {value:g} is outside what '{path}' ({dtype}) can hold: give an integer in "
            f'[{info.min}, {info.max}]')
    return float(value)


def invalid_pixels(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """(h, w) bool of (C, h, w) ``data``: every band equal to ``nodata``, or a NaN band."""
    bad = np.zeros(data.shape[1:], bool)
    if np.issubdtype(data.dtype, np.floating):
        bad |= np.isnan(data).any(0)
    if nodata is not None and not np.isnan(nodata):
        bad |= (data == np.asarray(nodata, data.dtype)).all(0)
    return bad


def fill_invalid(data: np.ndarray, bad: np.ndarray, fill) -> np.ndarray:
    """``data`` (C, h, w) float32 with ``bad`` pixels set to ``fill`` (one value per band or
    one for all; NaN pixels become 0 without a fill)."""
    if not bad.any():
        return data
    if fill is None:  # only NaN must go: the model cannot take it
        return np.nan_to_num(data, copy=False, nan=0.0)
    values = np.broadcast_to(np.asarray(fill, np.float32), (data.shape[0],))
    data[:, bad] = values[:, None]
    return data


def nodata_mask(img: np.ndarray, nodata: float | None) -> np.ndarray:
    """(H, W) bool of (H, W, C) ``img``: pixels whose every band equals ``nodata``, or that
    have a NaN band (:func:`invalid_pixels` on the bands-first view)."""
    return invalid_pixels(np.moveaxis(img, -1, 0), nodata)
