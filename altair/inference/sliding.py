"""Sliding-window inference over an image larger than one forward pass.

Pure functions over tensors: the model enters only as ``predictor``, a callable mapping a
batch of windows (B, C, h, w) to logits (B, K, h, w).
"""
from __future__ import annotations

from typing import Callable, Iterator

import torch
from torch import Tensor


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Start offsets of windows of size ``window`` covering ``[0, length)``.

    Windows advance by ``stride``; the last one is snapped to the border so that every pixel
    is covered and no window leaves the image. An image shorter than the window gets one
    window at 0 (the caller pads).
    """
    if window <= 0 or stride <= 0:
        raise ValueError(f'window and stride must be positive, got {window} and {stride}')
    if stride > window:
        raise ValueError(f'stride {stride} > window {window} would leave pixels uncovered')
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride))
    starts.append(length - window)
    return starts


def window_grid(height: int, width: int, window: tuple[int, int],
                stride: tuple[int, int]) -> list[tuple[int, int]]:
    """(top, left) of every window, row by row."""
    return [(y, x) for y in window_starts(height, window[0], stride[0])
            for x in window_starts(width, window[1], stride[1])]


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def sliding_window_logits(image: Tensor, predictor: Callable[[Tensor], Tensor], *,
                          window: tuple[int, int], stride: tuple[int, int], num_classes: int,
                          batch_size: int = 4, progress: Callable[[int], None] | None = None
                          ) -> Tensor:
    """Average of window logits over an image (uniform weights), accumulated in float32.

    Args:
        image: (C, H, W) tensor, already normalised as the predictor expects.
        predictor: maps (B, C, h, w) to (B, K, h, w) logits.
        window: (h, w) window size; images smaller than it are zero-padded and cropped back.
        stride: (sy, sx) step between windows.
        num_classes: K.
        batch_size: windows per predictor call.
        progress: called with the number of windows done after every batch.

    Returns:
        (K, H, W) float32 logits on ``image``'s device.
    """
    _, height, width = image.shape
    pad_h, pad_w = max(window[0] - height, 0), max(window[1] - width, 0)
    if pad_h or pad_w:
        image = torch.nn.functional.pad(image, (0, pad_w, 0, pad_h))
    H, W = image.shape[1:]
    acc = torch.zeros(num_classes, H, W, dtype=torch.float32, device=image.device)
    count = torch.zeros(1, H, W, dtype=torch.float32, device=image.device)
    grid = window_grid(H, W, window, stride)
    for batch in _batches(grid, batch_size):
        crops = torch.stack([image[:, y:y + window[0], x:x + window[1]] for y, x in batch])
        logits = predictor(crops).float()
        for (y, x), lg in zip(batch, logits):
            acc[:, y:y + window[0], x:x + window[1]] += lg
            count[:, y:y + window[0], x:x + window[1]] += 1
        if progress is not None:
            progress(len(batch))
    return (acc / count)[:, :height, :width]
