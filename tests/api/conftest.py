"""Fixtures of the prediction tests: a PSPNet checkpoint and Blue Marble cuts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """Random weights of configs/pspnet.py saved as an mmengine-style checkpoint."""
    from mmengine.registry import DefaultScope

    from altair.config import load_config
    from altair.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config(ROOT / 'configs/pspnet.py').model)
    path = tmp_path_factory.mktemp('ckpt') / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


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
