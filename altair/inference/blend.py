"""Blend weights for stitching overlapping windows (pure functions).

Overlapping predictions are combined as ``sum_i w_i * logits_i / sum_i w_i``: a constant
predictor therefore returns its constant everywhere, borders and corners included, as long as
every weight is positive (which all modes here guarantee). Down-weighting window borders,
where a model sees the least context, removes the seams of uniform averaging.
"""
from __future__ import annotations

import torch
from torch import Tensor

from altair.errors import AltairError

BLEND_MODES = ('constant', 'gaussian', 'linear')
# Smallest gaussian weight relative to the centre: keeps image-border pixels (seen by one
# window only, at its edge) well defined.
_MIN_GAUSSIAN = 1e-3


class BlendModeError(AltairError, ValueError):
    """An unknown blend mode or an invalid blend parameter."""


def _axis_weights(n: int, mode: str, sigma_scale: float) -> Tensor:
    idx = torch.arange(n, dtype=torch.float64)
    if mode == 'constant':
        return torch.ones(n, dtype=torch.float64)
    if mode == 'gaussian':
        centre = (n - 1) / 2.0
        sigma = max(sigma_scale * n, 1e-6)
        w = torch.exp(-0.5 * ((idx - centre) / sigma) ** 2)
        return w.clamp_min(_MIN_GAUSSIAN)
    # linear / pyramid: 1, 2, ..., peak, ..., 2, 1 (positive at both ends)
    return torch.minimum(idx + 1, n - idx)


def blend_weights(window: tuple[int, int], mode: str = 'gaussian', *,
                  sigma_scale: float = 0.125) -> Tensor:
    """(h, w) float32 weight map of one window, maximum 1, strictly positive.

    Args:
        window: (h, w).
        mode: ``'constant'`` (uniform average, mmseg's), ``'gaussian'`` (sigma =
            ``sigma_scale`` × window side per axis, as in MONAI / nnU-Net) or ``'linear'``
            (pyramid ramp rising 1 per pixel from each edge).
        sigma_scale: gaussian sigma as a fraction of the window side, > 0.
    """
    if mode not in BLEND_MODES:
        raise BlendModeError(f"unknown blend mode '{mode}'; choose one of {', '.join(BLEND_MODES)}")
    if not sigma_scale > 0:
        raise BlendModeError(f'sigma_scale must be > 0, got {sigma_scale}')
    wy = _axis_weights(window[0], mode, sigma_scale)
    wx = _axis_weights(window[1], mode, sigma_scale)
    w = wy[:, None] * wx[None, :]
    return (w / w.max()).float()
