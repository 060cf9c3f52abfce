"""Property-based tests (hypothesis) of the pure inference functions, over random image
sizes, windows, overlaps, band counts and dtypes: what must hold for every input, not only
for the sizes someone thought of."""
from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from altair.inference.blend import BLEND_MODES, blend_weights
from altair.inference.grid import resolve_window, window_grid, window_starts
from altair.inference.sliding import pad_to, sliding_window_inference
from altair.inference.tta import FAMILIES, make_views
from tests.inference.helpers import numpy_blend, numpy_starts

# few examples per property (the suite's time is counted), no deadline (first calls import)
PROPS = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


def position_image(height: int, width: int) -> torch.Tensor:
    """(2, H, W) float32: band 0 each pixel's row, band 1 its column (exact up to 2**24)."""
    rows = torch.arange(height, dtype=torch.float32)[:, None].expand(height, width)
    cols = torch.arange(width, dtype=torch.float32)[None, :].expand(height, width)
    return torch.stack([rows, cols])


def window_dependent(x: torch.Tensor) -> torch.Tensor:
    """(B, 2, h, w) windows of :func:`position_image` -> (B, 3, h, w) logits: per class a
    value of the window's offset (read from its top-left pixel, which padding never
    replaces) plus a ramp over the window's own coordinates. Windows that overlap give a
    pixel different values, so the stitched result is the blend weights' doing."""
    top, left = x[:, 0, 0, 0].double(), x[:, 1, 0, 0].double()
    h, w = x.shape[-2:]
    i = torch.arange(h, dtype=torch.float64)[:, None]
    j = torch.arange(w, dtype=torch.float64)[None, :]
    per_window = torch.sin(0.7 * top + 1.3 * left + 0.1)[:, None, None]
    return torch.stack([(k + 1) * per_window + 0.05 * (k + 1) * (i - 2 * j)
                        for k in range(3)], 1).float()


def numpy_window_blend(height: int, width: int, window: tuple[int, int], overlap: float,
                       blend: str, sigma_scale: float) -> np.ndarray:
    """(3, H, W) float64: what :func:`window_dependent` stitched must give, written from the
    documented rules: windows every ``floor(window * (1 - overlap))`` px with the last one
    snapped to the border, a pixel's value ``sum(weight * value) / sum(weight)`` over the
    windows covering it, each window's weight map cut at the image border."""
    stride = [max(1, math.floor(n * (1.0 - overlap))) for n in window]
    weights = numpy_blend(*window, blend, sigma_scale)
    i, j = np.arange(window[0])[:, None], np.arange(window[1])[None, :]
    acc, wsum = np.zeros((3, height, width)), np.zeros((height, width))
    for top in numpy_starts(height, window[0], stride[0]):
        for left in numpy_starts(width, window[1], stride[1]):
            value = np.sin(0.7 * top + 1.3 * left + 0.1)
            logits = np.stack([(k + 1) * value + 0.05 * (k + 1) * (i - 2 * j) for k in range(3)])
            h, w = min(window[0], height - top), min(window[1], width - left)
            acc[:, top:top + h, left:left + w] += weights[:h, :w] * logits[:, :h, :w]
            wsum[top:top + h, left:left + w] += weights[:h, :w]
    return acc / wsum


@st.composite
def axis(draw):
    """(length, window, stride) of one axis, stride in [1, window]."""
    window = draw(st.integers(1, 40))
    return draw(st.integers(1, 120)), window, draw(st.integers(1, window))


@PROPS
@given(axis())
def test_the_grid_covers_every_pixel_and_stays_inside(params):
    length, window, stride = params
    starts = window_starts(length, window, stride)
    covered = np.zeros(length, bool)
    for s in starts:
        assert 0 <= s and (s + window <= length or (s == 0 and length < window))
        covered[s:s + window] = True
    assert covered.all()
    assert starts == sorted(set(starts))  # increasing, no window twice
    assert all(b - a <= stride for a, b in zip(starts, starts[1:]))  # never a gap


@PROPS
@given(st.integers(1, 64), st.integers(1, 64), st.sampled_from(BLEND_MODES),
       st.floats(0.01, 2.0))
def test_blend_weights_are_positive_with_maximum_one(h, w, mode, sigma_scale):
    weights = blend_weights((h, w), mode, sigma_scale=sigma_scale)
    assert weights.shape == (h, w) and weights.dtype == torch.float32
    assert bool((weights > 0).all()) and float(weights.max()) == 1.0
    torch.testing.assert_close(weights, weights.flip(0).flip(1))  # symmetric
    # and the shape itself, against the documented formula written out in NumPy
    np.testing.assert_allclose(weights.numpy(), numpy_blend(h, w, mode, sigma_scale),
                               rtol=1e-6, atol=1e-7)


@st.composite
def stitching_case(draw):
    height, width = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    window = (draw(st.integers(1, 32)), draw(st.integers(1, 32)))
    overlap = draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.95]))
    bands = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([torch.uint8, torch.int16, torch.int32, torch.float32]))
    blend = draw(st.sampled_from(BLEND_MODES))
    sigma_scale = draw(st.floats(0.05, 1.0))
    batch = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2 ** 16))
    return height, width, window, overlap, bands, dtype, blend, sigma_scale, batch, seed


@PROPS
@given(stitching_case())
def test_stitching_a_per_pixel_predictor_equals_the_whole_image(case):
    """Every pixel covered and cropped back right, for any dtype and band count. A per-pixel
    predictor gives every window the same value, so this cannot see the blend weights:
    :func:`test_stitching_blends_window_dependent_logits_by_the_weights` does."""
    height, width, window, overlap, bands, dtype, blend, sigma_scale, batch, seed = case
    g = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        image = torch.rand(bands, height, width, generator=g).to(dtype) * 1000
    else:
        hi = 255 if dtype == torch.uint8 else 30000
        image = torch.randint(0, hi + 1, (bands, height, width), generator=g).to(dtype)
    weight = torch.randn(3, bands, generator=g)

    def per_pixel(x):
        return torch.einsum('kc,bchw->bkhw', weight, x.float())
    whole = per_pixel(image[None])[0]
    out = sliding_window_inference(image, per_pixel, window=window, overlap=overlap,
                                   num_classes=3, batch_size=batch, blend=blend,
                                   sigma_scale=sigma_scale)
    assert out.shape == (3, height, width) and out.dtype == torch.float32
    scale = whole.abs().max().clamp_min(1)
    torch.testing.assert_close(out / scale, whole / scale, rtol=1e-5, atol=1e-5)
    # and the windows resolve_window picks are the ones the engine ran: all inside the image
    win, step = resolve_window(window, overlap=overlap)
    for y, x in window_grid(height, width, win, step):
        assert (y == 0 or y + win[0] <= height) and (x == 0 or x + win[1] <= width)


@PROPS
@given(stitching_case())
def test_stitching_blends_window_dependent_logits_by_the_weights(case):
    """Logits that differ from window to window (:func:`window_dependent`), stitched, equal
    an independent NumPy blend over the window grid: weights ignored, mis-shaped or cut at
    the border the wrong way show up wherever windows overlap."""
    height, width, window, overlap, _, _, blend, sigma_scale, batch, _ = case
    out = sliding_window_inference(position_image(height, width), window_dependent,
                                   window=window, overlap=overlap, num_classes=3,
                                   batch_size=batch, blend=blend, sigma_scale=sigma_scale)
    expected = numpy_window_blend(height, width, window, overlap, blend, sigma_scale)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_the_window_dependent_blend_tells_the_weighting_modes_apart():
    """The reference above is sensitive to the weights: on one overlapping grid the three
    modes give results far apart, and the engine's gaussian result is the gaussian one."""
    args = (40, 50, (16, 20), 0.5)
    blends = {mode: numpy_window_blend(*args, mode, 0.125) for mode in BLEND_MODES}
    for a in BLEND_MODES:
        for b in BLEND_MODES:
            if a < b:
                assert np.abs(blends[a] - blends[b]).max() > 0.1, (a, b)
    out = sliding_window_inference(position_image(40, 50), window_dependent, window=(16, 20),
                                   overlap=0.5, num_classes=3, blend='gaussian')
    np.testing.assert_allclose(out.numpy(), blends['gaussian'], rtol=1e-4, atol=1e-4)
    assert np.abs(out.numpy() - blends['constant']).max() > 0.1


@PROPS
@given(st.integers(1, 24), st.integers(1, 24), st.integers(1, 4),
       st.lists(st.sampled_from(sorted(FAMILIES)), min_size=0, max_size=3))
def test_every_tta_view_is_undone_by_its_inverse(h, w, channels, transforms):
    x = torch.arange(2 * channels * h * w, dtype=torch.float32).view(2, channels, h, w)
    for view in make_views(transforms):
        seen = view.forward(x)
        assert tuple(seen.shape[-2:]) == view.input_shape(h, w)
        assert torch.equal(view.inverse(seen), x), view.ops


@PROPS
@given(st.integers(1, 20), st.integers(1, 20), st.integers(0, 50), st.integers(0, 50),
       st.sampled_from(['reflect', 'constant']), st.sampled_from([torch.float32,
                                                                   torch.float64]))
def test_pad_to_round_trips(h, w, extra_h, extra_w, mode, dtype):
    region = torch.rand(3, h, w, generator=torch.Generator().manual_seed(h * 31 + w)).to(dtype)
    size = (h + extra_h, w + extra_w)
    out = pad_to(region, size, mode=mode, value=-7.0)
    assert out.shape == (3, *size) and out.dtype == dtype
    assert torch.equal(out[:, :h, :w], region)  # cropping back gives the region
    padded = torch.ones(size, dtype=torch.bool)
    padded[:h, :w] = False
    if mode == 'constant':
        assert bool((out[:, padded] == -7.0).all())
    else:  # reflection only repeats the region's own values, per band
        for band in range(3):
            assert set(out[band].unique().tolist()) <= set(region[band].unique().tolist())

