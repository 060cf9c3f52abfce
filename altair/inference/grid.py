"""Window grids for sliding-window inference (pure functions)."""
from __future__ import annotations

import math
from typing import Sequence

from altair.errors import AltairError


class WindowArgumentError(AltairError, ValueError):
    """A window, overlap, stride or batch size outside its accepted range."""


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise WindowArgumentError(f'{name} must be an int or a pair of ints (h, w), got {value!r}')
    if min(value) < 1:
        raise WindowArgumentError(f'{name} must be >= 1 in both dimensions, got {value}')
    return value  # type: ignore[return-value]


def resolve_window(window: int | Sequence[int], *, overlap: float | None = None,
                   stride: int | Sequence[int] | None = None) -> tuple[tuple[int, int],
                                                                      tuple[int, int]]:
    """Validate ``window`` and turn ``overlap`` or ``stride`` into a stride ``(sy, sx)``.

    Args:
        window: window size ``(h, w)`` (or one int for a square).
        overlap: fraction of the window shared by neighbours, in [0, 1); the stride is
            ``max(1, floor(window * (1 - overlap)))``. Default 0.25 when ``stride`` is not given.
        stride: explicit step ``(sy, sx)``, each in [1, window]. Not together with ``overlap``.

    Raises:
        WindowArgumentError: naming the argument and its accepted range.
    """
    win = _pair(window, 'window')
    if overlap is not None and stride is not None:
        raise WindowArgumentError('give either overlap or stride, not both')
    if stride is None:
        overlap = 0.25 if overlap is None else overlap
        if not isinstance(overlap, (int, float)) or not 0.0 <= overlap < 1.0:
            raise WindowArgumentError(f'overlap must be in [0, 1), got {overlap!r}')
        step = tuple(max(1, math.floor(w * (1.0 - overlap))) for w in win)
    else:
        step = _pair(stride, 'stride')
        if step[0] > win[0] or step[1] > win[1]:
            raise WindowArgumentError(
                f'stride must be in [1, window] = [1, {win}] so that every pixel is covered, '
                f'got {step}')
    return win, step  # type: ignore[return-value]


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Start offsets of windows of size ``window`` covering ``[0, length)``.

    Windows advance by ``stride``; the last one is snapped to the border so that every pixel
    is covered and no window leaves the image. An image shorter than the window gets a single
    window at 0 (the caller pads it).
    """
    if length < 1:
        raise WindowArgumentError(f'image size must be >= 1, got {length}')
    if window < 1 or stride < 1:
        raise WindowArgumentError(f'window and stride must be >= 1, got {window} and {stride}')
    if stride > window:
        raise WindowArgumentError(
            f'stride must be in [1, window={window}] so that every pixel is covered, '
            f'got {stride}')
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride))
    starts.append(length - window)
    return starts


def window_grid(height: int, width: int, window: tuple[int, int],
                stride: tuple[int, int]) -> list[tuple[int, int]]:
    """(top, left) of every window, row by row (all windows of a row share ``top``)."""
    return [(y, x) for y in window_starts(height, window[0], stride[0])
            for x in window_starts(width, window[1], stride[1])]
