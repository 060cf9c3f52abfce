"""Property-based tests (hypothesis) of the pure inference functions, over random image
sizes, windows, overlaps, band counts and dtypes: what must hold for every input, not only
for the sizes someone thought of."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from altair.inference.blend import BLEND_MODES, blend_weights
from altair.inference.grid import resolve_window, window_grid, window_starts
from altair.inference.sliding import pad_to, sliding_window_inference
from altair.inference.tta import FAMILIES, make_views

# few examples per property (the suite's time is counted), no deadline (first calls import)
PROPS = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


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


@st.composite
def stitching_case(draw):
    height, width = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    window = (draw(st.integers(1, 32)), draw(st.integers(1, 32)))
    overlap = draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.95]))
    bands = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([torch.uint8, torch.int16, torch.int32, torch.float32]))
    blend = draw(st.sampled_from(BLEND_MODES))
    batch = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2 ** 16))
    return height, width, window, overlap, bands, dtype, blend, batch, seed


@PROPS
@given(stitching_case())
def test_stitching_a_per_pixel_predictor_equals_the_whole_image(case):
    height, width, window, overlap, bands, dtype, blend, batch, seed = case
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
                                   num_classes=3, batch_size=batch, blend=blend)
    assert out.shape == (3, height, width) and out.dtype == torch.float32
    scale = whole.abs().max().clamp_min(1)
    torch.testing.assert_close(out / scale, whole / scale, rtol=1e-5, atol=1e-5)
    # and the windows resolve_window picks are the ones the engine ran: all inside the image
    win, step = resolve_window(window, overlap=overlap)
    for y, x in window_grid(height, width, win, step):
        assert (y == 0 or y + win[0] <= height) and (x == 0 or x + win[1] <= width)


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

