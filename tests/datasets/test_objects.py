"""Measurements on label maps: ``object_sizes`` against maps whose component sizes are known
by construction, ``block_class_counts`` against a pixel loop."""
from __future__ import annotations

import math

import numpy as np
import pytest

from altair.datasets import objects as O
from altair.datasets.objects import MeasureError, ObjectStats


def _eqd(area: float) -> float:
    return 2 * math.sqrt(area / math.pi)


# ---------------------------------------------------------------- object sizes


def _squares(sides, *, cls=1, gap=3, shape=(64, 200)):
    """Squares of the given sides in a row, ``gap`` pixels apart, on background 0."""
    lm = np.zeros(shape, np.uint8)
    x = gap
    for s in sides:
        lm[gap:gap + s, x:x + s] = cls
        x += s + gap
    return lm


def test_object_sizes_of_squares_and_a_disc_by_construction():
    sides = [2, 3, 5, 8, 13, 21]
    lm = _squares(sides)
    yy, xx = np.mgrid[:64, :200]
    disc = (yy - 45) ** 2 + (xx - 150) ** 2 <= 9 ** 2  # well away from the squares
    lm[disc] = 2
    s = O.object_sizes(lm, [0, 1, 2])
    d = [_eqd(a * a) for a in sides]
    assert s[1].count == 6 and s[1].min_area == 4
    assert s[1].median_diameter == pytest.approx(float(np.median(d)))
    assert s[1].p90_diameter == pytest.approx(float(np.percentile(d, 90)))
    assert s[2].count == 1 and s[2].min_area == disc.sum()
    assert s[2].median_diameter == pytest.approx(_eqd(disc.sum()))
    assert s[2].median_diameter == pytest.approx(18, rel=0.05)  # a disc of radius 9
    assert s[0].count == 1  # the background is one connected region


def test_absent_class_and_the_ignore_index():
    lm = np.zeros((10, 10), np.uint8)
    lm[2:8, 1:9] = 1
    lm[:, 5] = 255  # an unlabelled column cuts the rectangle in two and is no object itself
    s = O.object_sizes(lm, [1, 3, 255])
    assert s[1].count == 2 and s[1].min_area == 6 * 3  # columns 1-4 and 6-8 of 6 rows
    assert s[3] == ObjectStats(0, None, None, None, 1.0)
    assert 255 not in s


def test_connectivity_8_joins_corners_and_4_does_not():
    lm = np.zeros((8, 8), np.uint8)
    lm[1:3, 1:3] = 1
    lm[3:5, 3:5] = 1  # touches the first square at one corner
    assert O.object_sizes(lm, [1])[1].count == 1
    assert O.object_sizes(lm, [1], connectivity=8)[1].min_area == 8
    four = O.object_sizes(lm, [1], connectivity=4)[1]
    assert four.count == 2 and four.min_area == 4
    with pytest.raises(MeasureError, match='choose 4 or 8'):
        O.object_sizes(lm, [1], connectivity=6)


def test_decimation_factor_scales_areas_back_to_full_resolution():
    """Squares aligned to the 4-pixel grid: the every-4th-pixel map measured with factor 4
    gives the full-resolution areas and diameters exactly."""
    lm = np.zeros((128, 256), np.uint8)
    for i, side in enumerate([8, 16, 24, 32]):
        lm[8:8 + side, 8 + 48 * i:8 + 48 * i + side] = 1
    full = O.object_sizes(lm, [1])
    dec = O.object_sizes(lm[::4, ::4], [1], factor=4)
    assert dec[1].count == full[1].count == 4
    assert dec[1].min_area == full[1].min_area == 64
    assert dec[1].p90_diameter == pytest.approx(full[1].p90_diameter)
    assert dec[1].pixel_area == 16
    # without the factor the decimated map would read 16 times too small
    assert O.object_sizes(lm[::4, ::4], [1])[1].min_area == 4


def test_summarise_areas_pools_images():
    a = O.component_areas(_squares([2, 3]), [1])
    b = O.component_areas(_squares([5, 8]), [1])
    s = O.summarise_areas({1: np.concatenate([a[1], b[1]])})
    assert s[1].count == 4 and s[1].min_area == 4
    assert s[1].median_diameter == pytest.approx(float(np.median([_eqd(9), _eqd(25)])))



# ---------------------------------------------------------------- blocks


def test_block_class_counts_against_a_pixel_loop():
    rng = np.random.default_rng(3)
    index_map = rng.integers(0, 3, (37, 45))
    index_map[rng.random(index_map.shape) < 0.2] = O.IGNORE_INDEX
    for factor, block in [(1, 16), (2, 24), (3, 50)]:
        got = O.block_class_counts(index_map, block=block, factor=factor, num_classes=3)
        want = np.zeros_like(got)
        for (i, j), c in np.ndenumerate(index_map):
            if c != O.IGNORE_INDEX:
                want[i * factor // block, j * factor // block, c] += 1
        assert np.array_equal(got, want)
