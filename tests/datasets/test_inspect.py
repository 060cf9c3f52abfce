"""Object sizes as ``altair init`` measures them: the decimated labels ``label_counts`` keeps,
mapped to class indices, against sizes known by construction."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from altair.datasets.inspect import Pair
from altair.datasets.label_stats import Classes, label_counts, object_stats
from tests.datasets.raster_fixtures import utm_boxes, write_geojson, write_tif


def _eqd(area: float) -> float:
    return 2 * math.sqrt(area / math.pi)


def _squares(folder: Path) -> Pair:
    """A 200 x 200 scene; labels (raw values 10/20/30): nine 20-px squares of 20, one
    40-px square of 30, the rest 10."""
    folder.mkdir()
    write_tif(folder / 'scene.tif', np.ones((1, 200, 200), np.uint8))
    lab = np.full((200, 200), 10, np.uint8)
    for r in range(3):
        for c in range(3):
            lab[10 + 40 * r:30 + 40 * r, 10 + 40 * c:30 + 40 * c] = 20
    lab[140:180, 140:180] = 30
    write_tif(folder / 'labels.tif', lab[None])
    return Pair(str(folder / 'scene.tif'), str(folder / 'labels.tif'))


@pytest.mark.parametrize('max_side, factor', [(1024, 1), (100, 2)])
def test_object_sizes_of_raw_values_through_the_classes(tmp_path, max_side, factor):
    pair = _squares(tmp_path / 'sq')
    maps: list = []
    counts = label_counts([pair], max_side=max_side, maps=maps)
    assert counts == {10: (200 * 200 - 9 * 400 - 1600) // factor ** 2,
                      20: 9 * 400 // factor ** 2, 30: 1600 // factor ** 2}
    # the classes list the raw values in another order than the labels sort them
    classes = Classes(['squares', 'ground', 'block'], [20, 10, 30])
    sizes = object_stats(maps, classes, background=1)
    assert set(sizes) == {0, 2}  # the background class is not measured
    assert sizes[0].count == 9 and sizes[2].count == 1
    assert sizes[0].median_diameter == pytest.approx(_eqd(400))
    assert sizes[2].p90_diameter == pytest.approx(_eqd(1600))
    assert sizes[0].min_area == 400 and sizes[0].pixel_area == factor ** 2


def test_object_sizes_of_footprint_polygons(tmp_path):
    data = tmp_path / 'fp'
    data.mkdir()
    # 10 m pixels from (500000, 5000000): two boxes of 8 x 8 and 5 x 12 pixels
    write_tif(data / 'scene.tif', np.ones((1, 100, 100), np.uint8))
    rings = utm_boxes([(500100, 4999900, 500180, 4999820),
                       (500400, 4999500, 500450, 4999380)])
    write_geojson(data / 'ponds.geojson', [(r, {}) for r in rings])
    maps: list = []
    counts = label_counts([Pair(str(data / 'scene.tif'), str(data / 'ponds.geojson'))],
                          footprints=(1, 0), maps=maps)
    assert counts == {0: 10000 - 64 - 60, 1: 64 + 60}
    sizes = object_stats(maps, Classes(['background', 'ponds'], [0, 1]), background=0)
    assert sizes[1].count == 2 and sizes[1].min_area == 60
    assert sizes[1].p90_diameter == pytest.approx(np.percentile([_eqd(60), _eqd(64)], 90))
