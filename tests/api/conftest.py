"""Fixtures of the prediction tests: Blue Marble cuts (the PSPNet checkpoint is
tests/conftest.py's)."""
from __future__ import annotations


import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from tests.volume_fixtures import volume_model  # noqa: F401  (fixture)



@pytest.fixture(scope='module')
def crop(bluemarble, tmp_path_factory):
    """A 300 x 420 GeoTIFF cut out of the full Blue Marble image, keeping its georeference."""
    src_path = bluemarble / 'bluemarble_rgb.tif'
    out = tmp_path_factory.mktemp('img') / 'africa.tif'
    with rasterio.open(src_path) as src:
        win = Window(2700, 900, 420, 300)
        profile = dict(src.profile, width=420, height=300,
                       transform=src.window_transform(win))
        with rasterio.open(out, 'w', **profile) as dst:
            dst.write(src.read(window=win))
    return out


@pytest.fixture(scope='module')
def framed(crop, tmp_path_factory):
    """The crop with a 100-px nodata frame on the left (value 0 in every band, the file's
    nodata) and a hole; 0 occurs nowhere else in all three bands."""
    out = tmp_path_factory.mktemp('nodata') / 'framed.tif'
    with rasterio.open(crop) as src:
        data = np.maximum(src.read(), 1)
        profile = dict(src.profile, nodata=0)
    data[:, :, :100] = 0
    data[:, 200:230, 300:340] = 0
    with rasterio.open(out, 'w', **profile) as dst:
        dst.write(data)
    return out
