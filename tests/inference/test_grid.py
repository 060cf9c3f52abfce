from __future__ import annotations

import pytest

from altair.inference.grid import WindowArgumentError, resolve_window, window_grid, window_starts


@pytest.mark.parametrize('length,window,stride', [(10, 4, 3), (7, 7, 2), (5, 8, 4), (33, 8, 8),
                                                  (1, 1, 1), (1, 5, 5), (100, 7, 1)])
def test_windows_cover_every_pixel_and_stay_inside(length, window, stride):
    starts = window_starts(length, window, stride)
    covered = set()
    for s in starts:
        covered |= set(range(s, min(s + window, length)))
        assert s >= 0 and (s + window <= length or length < window)
    assert covered == set(range(length))
    assert starts == sorted(set(starts))
    if length > window:
        assert starts[-1] == length - window  # snapped to the border


def test_window_grid_is_row_major():
    grid = window_grid(10, 12, (4, 5), (3, 4))
    assert grid[:4] == [(0, 0), (0, 4), (0, 7), (3, 0)]
    assert grid[-1] == (6, 7)


def test_overlap_and_stride_resolve():
    assert resolve_window(512, overlap=0.25) == ((512, 512), (384, 384))
    assert resolve_window((64, 32), overlap=0.0) == ((64, 32), (64, 32))
    assert resolve_window((64, 32), stride=(10, 32)) == ((64, 32), (10, 32))
    assert resolve_window(4, overlap=0.99) == ((4, 4), (1, 1))
    assert resolve_window(8) == ((8, 8), (6, 6))  # default overlap 0.25


@pytest.mark.parametrize('kwargs,message', [
    (dict(window=0), r'window must be >= 1'),
    (dict(window=(4, 4, 4)), r'window must be an int or a pair'),
    (dict(window=8, overlap=1.0), r'overlap must be in \[0, 1\), got 1.0'),
    (dict(window=8, overlap=-0.1), r'overlap must be in \[0, 1\)'),
    (dict(window=8, stride=9), r'stride must be in \[1, window\]'),
    (dict(window=8, stride=0), r'stride must be >= 1'),
    (dict(window=8, stride=4, overlap=0.5), r'either overlap or stride'),
])
def test_invalid_arguments_name_the_argument_and_range(kwargs, message):
    with pytest.raises(WindowArgumentError, match=message):
        resolve_window(**kwargs)
    assert issubclass(WindowArgumentError, ValueError)
