"""Predictors shared by the engine's tests (a helper module, not a test module)."""
from __future__ import annotations

import torch


def batch_dependent(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w) → (B, 3, h, w) logits that change with the batch's composition: only
    identical batches reproduce them."""
    return torch.cat([x, -x, x * x], 1)[:, :3] * 0.5 + x.mean() * 1e-2


# An independent stitcher in NumPy, written from the documented rules rather than from
# altair.inference: windows every `stride` with the last one snapped to the border, each
# window's logits weighted by the blend map, overlaps averaged by the summed weights.

def numpy_starts(length: int, window: int, stride: int) -> list[int]:
    """Window offsets along one axis (one window at 0 when the image is not longer)."""
    if length <= window:
        return [0]
    starts, s = [], 0
    while s + window < length:
        starts.append(s)
        s += stride
    return starts + [length - window]


def numpy_blend(h: int, w: int, mode: str, sigma_scale: float = 0.125):
    """The (h, w) blend map: 1 (constant), a separable gaussian of sigma = sigma_scale *
    side clipped below at 1e-3 of its peak per axis (gaussian), or a pyramid rising by one
    from 1 at each edge (linear); scaled to a maximum of 1."""
    import numpy as np

    def axis(n):
        i = np.arange(n, dtype=np.float64)
        if mode == 'constant':
            return np.ones(n)
        if mode == 'gaussian':
            return np.maximum(np.exp(-0.5 * ((i - (n - 1) / 2) / (sigma_scale * n)) ** 2),
                              1e-3)
        return np.minimum(i + 1, n - i)
    m = np.outer(axis(h), axis(w))
    return m / m.max()


def numpy_stitch(image, predict, window: tuple[int, int], stride: tuple[int, int],
                 blend: str = 'gaussian'):
    """(K, H, W) float64 blended logits of the (C, H, W) array ``image`` (H, W at least the
    window), ``predict`` mapping one (C, h, w) window to (K, h, w) logits."""
    import numpy as np
    _, height, width = image.shape
    weights = numpy_blend(*window, blend)
    acc = wsum = None
    for y in numpy_starts(height, window[0], stride[0]):
        for x in numpy_starts(width, window[1], stride[1]):
            out = np.asarray(predict(image[:, y:y + window[0], x:x + window[1]]), np.float64)
            if acc is None:
                acc = np.zeros((out.shape[0], height, width))
                wsum = np.zeros((height, width))
            acc[:, y:y + window[0], x:x + window[1]] += weights * out
            wsum[y:y + window[0], x:x + window[1]] += weights
    return acc / wsum


def edge_distance(h: int, w: int):
    """(h, w) float64: each pixel's distance to the nearest edge of its window, 0 on it."""
    import numpy as np
    yy = np.minimum(np.arange(h), np.arange(h)[::-1])[:, None]
    xx = np.minimum(np.arange(w), np.arange(w)[::-1])[None, :]
    return np.minimum(yy, xx).astype(np.float64)


def position_dependent(weight):
    """A predictor whose logits depend on where a pixel sits in its window (a pixel's value
    mapped by ``weight`` (K, C), plus its distance to the window's edge on class 0): unlike
    a per-pixel predictor, windows disagree, so the blend weights decide the result. Works
    on torch batches (B, C, h, w) and on NumPy windows (C, h, w) alike."""
    import numpy as np

    def predictor(x):
        if isinstance(x, torch.Tensor):
            d = torch.from_numpy(edge_distance(*x.shape[-2:])).to(x.device, torch.float32)
            out = torch.einsum('kc,bchw->bkhw', weight.to(x.dtype), x.float())
            out[:, 0] += 3.0 * d
            return out
        out = np.einsum('kc,chw->khw', weight.double().numpy(), x.astype(np.float64))
        out[0] += 3.0 * edge_distance(*x.shape[-2:])
        return out
    return predictor
