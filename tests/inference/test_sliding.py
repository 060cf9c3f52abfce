from __future__ import annotations

import pytest
import torch

from altair.inference.sliding import sliding_window_logits, window_grid, window_starts


@pytest.mark.parametrize('length,window,stride', [(10, 4, 3), (7, 7, 2), (5, 8, 4), (33, 8, 8)])
def test_windows_cover_every_pixel_and_stay_inside(length, window, stride):
    starts = window_starts(length, window, stride)
    covered = set()
    for s in starts:
        covered |= set(range(s, min(s + window, length)))
        assert s >= 0 and (s + window <= length or length < window)
    assert covered == set(range(length))
    assert starts == sorted(set(starts))


def test_bad_window_arguments():
    with pytest.raises(ValueError, match='uncovered'):
        window_starts(10, 4, 5)
    with pytest.raises(ValueError, match='positive'):
        window_starts(10, 0, 1)


def test_stitched_per_pixel_predictor_equals_whole_image():
    torch.manual_seed(0)
    weight = torch.randn(5, 3)

    def predictor(x):  # a per-pixel linear map: translation-equivariant, no context
        return torch.einsum('kc,bchw->bkhw', weight, x)

    image = torch.randn(3, 37, 51)
    whole = predictor(image[None])[0]
    for window, stride, bs in (((16, 16), (12, 10), 3), ((40, 64), (20, 20), 1)):
        done = []
        out = sliding_window_logits(image, predictor, window=window, stride=stride,
                                    num_classes=5, batch_size=bs, progress=done.append)
        assert out.shape == (5, 37, 51)
        torch.testing.assert_close(out, whole, rtol=1e-5, atol=1e-5)
        assert sum(done) == len(window_grid(max(37, window[0]), max(51, window[1]),
                                            window, stride))


def test_constant_predictor_gives_the_constant_everywhere():
    out = sliding_window_logits(torch.zeros(1, 30, 20), lambda x: torch.full(
        (x.shape[0], 2, *x.shape[2:]), 3.5), window=(8, 8), stride=(5, 3), num_classes=2)
    assert torch.all(out == 3.5)
