"""How far a model sees: the receptive field of its centre output pixel, measured by
back-propagation instead of read off the architecture, so it holds for any model a config
builds (skip connections, interpolating decoders, attention) without a table per model.

The gradient of one output pixel with respect to the input is exactly zero outside the input
pixels that pixel depends on, and (for random weights and inputs) nonzero inside. Batch norm
must be in eval mode: in training mode its batch statistics make every output pixel depend on
every input pixel.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def receptive_field(forward: Callable[[Tensor], Tensor], *, in_channels: int, size: int,
                    draws: int = 2, seed: int = 0) -> int | None:
    """Side in input pixels of the square the centre output pixel depends on.

    Args:
        forward: maps a ``(1, in_channels, size, size)`` input to ``(1, K, h, w)`` outputs (a
            module in eval mode, or ``lambda x: segmentor(x, mode='tensor')``).
        in_channels: the input's bands.
        size: the probe's side; the answer is ``None`` when the dependence reaches its border
            (the receptive field is at least ``size``: global attention, for one).
        draws: random inputs whose nonzero gradients are pooled, so that a ReLU closed on one
            input does not shrink the answer.
        seed: seeds the inputs.

    Returns:
        The larger of the height and width of the nonzero-gradient region, or None.
    """
    if size < 1 or in_channels < 1 or draws < 1:
        raise ValueError(f'size {size}, in_channels {in_channels} and draws {draws} must be >= 1')
    gen = torch.Generator().manual_seed(seed)
    seen = torch.zeros(size, size, dtype=torch.bool)
    for _ in range(draws):
        x = torch.randn(1, in_channels, size, size, generator=gen, requires_grad=True)
        out = forward(x)
        h, w = out.shape[-2:]
        out[0, :, h // 2, w // 2].sum().backward()
        seen |= (x.grad[0] != 0).any(dim=0)
    rows = torch.nonzero(seen.any(dim=1)).flatten()
    cols = torch.nonzero(seen.any(dim=0)).flatten()
    if rows.numel() == 0:
        raise ValueError('the centre output pixel does not depend on the input')
    if rows[0] == 0 or cols[0] == 0 or rows[-1] == size - 1 or cols[-1] == size - 1:
        return None
    return int(max(rows[-1] - rows[0], cols[-1] - cols[0])) + 1
