"""Blended window logits of a slab of 2-D slices, the windows of all its slices batched
together.

A volume is predicted slice by slice along one axis; a slab holds a few consecutive slices.
Where :func:`~altair.inference.sliding.sliding_window_inference` batches the windows of one
image, :func:`slab_logits` batches the windows of every slice of the slab, so slices no larger
than the window fill a batch with several slices instead of running one per forward pass.
Each slice is blended exactly as the sliding-window engine blends an image: the same grid
(:func:`~altair.inference.grid.window_grid`), the same weights, the same reflect padding of a
slice smaller than the window.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable

import torch
from torch import Tensor

from altair.inference.blend import blend_weights
from altair.inference.grid import WindowArgumentError, resolve_window, window_grid
from altair.inference.precision import resolve_precision
from altair.inference.sliding import pad_to


def slab_logits(slab: Tensor, predictor: Callable[[Tensor], Tensor], *,
                window: int | tuple[int, int], num_classes: int,
                overlap: float | None = None, stride: int | tuple[int, int] | None = None,
                batch_size: int = 4, blend: str = 'gaussian', sigma_scale: float = 0.125,
                precision: str = 'fp32', device: torch.device | str | None = None,
                channels_last: bool = False,
                preprocess: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """(S, C, H, W) slices → (S, K, H, W) float32 blended logits on the CPU.

    Args:
        slab: S slices of C channels. predictor: (B, C, h, w) → (B, K, h, w).
        window, overlap, stride: as for the sliding-window engine; a slice smaller than the
            window is reflect-padded to it (the window keeps the size the model trained on)
            and the logits cropped back.
        batch_size: windows per predictor call, taken across slices in slice order.
        blend, sigma_scale, precision, channels_last, preprocess: as for the engine.

    Raises:
        WindowArgumentError: a bad window, overlap, stride or batch size.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise WindowArgumentError(f'batch_size must be an int >= 1, got {batch_size!r}')
    if slab.ndim != 4:
        raise WindowArgumentError(f'a slab must be (S, C, H, W), got shape {tuple(slab.shape)}')
    win, step = resolve_window(window, overlap=overlap, stride=stride)
    count, channels, height, width = slab.shape
    ph, pw = max(height, win[0]), max(width, win[1])
    if (ph, pw) != (height, width):
        slab = pad_to(slab.reshape(count * channels, height, width), (ph, pw)).reshape(
            count, channels, ph, pw)
    grid = window_grid(ph, pw, win, step)
    weights = (blend_weights(win, blend, sigma_scale=sigma_scale) if len(grid) > 1
               else torch.ones(win))
    wsum = torch.zeros(ph, pw)
    for y, x in grid:
        wsum[y:y + win[0], x:x + win[1]] += weights
    device = torch.device('cpu' if device is None else device)
    cast = resolve_precision(precision, device)
    autocast = (torch.autocast(device_type=device.type, dtype=cast) if cast is not None
                else nullcontext())
    acc = torch.zeros(count, num_classes, ph, pw)
    jobs = [(s, y, x) for s in range(count) for y, x in grid]
    for start in range(0, len(jobs), batch_size):
        part = jobs[start:start + batch_size]
        batch = torch.stack([slab[s, :, y:y + win[0], x:x + win[1]] for s, y, x in part])
        batch = batch.to(device)
        if preprocess is not None:
            batch = preprocess(batch)
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), autocast:
            out = predictor(batch)
        if out.shape[0] != len(part) or tuple(out.shape[2:]) != win:
            raise ValueError(f'predictor returned {tuple(out.shape)} for {len(part)} windows '
                             f'of {win}')
        out = out.float().cpu()
        for (s, y, x), logits in zip(part, out):
            acc[s, :, y:y + win[0], x:x + win[1]] += logits[:num_classes] * weights
    acc /= wsum
    return acc[:, :, :height, :width]
