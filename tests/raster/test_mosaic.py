"""Adjacent GeoTIFFs as one scene through a VRT."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from altair.inference.sliding import sliding_window_inference
from altair.prediction.sinks import FanOut
from altair.prediction.writers import LabelCollector
from altair.raster.errors import MosaicError
from altair.raster.mosaic import write_mosaic_vrt
from altair.raster.sources import RasterSource

T = from_origin(300000.0, 5000000.0, 10.0, 10.0)


def _write(path, data, transform, **extra):
    profile = dict(driver='GTiff', width=data.shape[2], height=data.shape[1],
                   count=data.shape[0], dtype=data.dtype.name, crs='EPSG:32631',
                   transform=transform, **extra)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)
    return path


def _tiles(tmp_path, data, rows=(0, 37, 70), cols=(0, 52, 90), **extra):
    """``data`` cut into a 2x2 grid of unequal tiles, each keeping its georeference."""
    paths = []
    for i in range(2):
        for j in range(2):
            r0, r1, c0, c1 = rows[i], rows[i + 1], cols[j], cols[j + 1]
            t = from_origin(T.c + c0 * T.a, T.f + r0 * T.e, T.a, -T.e)
            paths.append(_write(tmp_path / f't{i}{j}.tif', data[:, r0:r1, c0:c1], t, **extra))
    return paths


def _scene():
    return np.random.default_rng(0).integers(1, 4000, (3, 70, 90)).astype(np.uint16)


def test_vrt_of_four_tiles_reads_and_predicts_as_the_whole_image(tmp_path):
    data = _scene()
    whole = _write(tmp_path / 'whole.tif', data, T)
    vrt = write_mosaic_vrt(_tiles(tmp_path, data)[::-1], tmp_path / 'm.vrt')
    weight = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0.4, 0.3, 0.3]])

    def predictor(x):
        return torch.einsum('kc,bchw->bkhw', weight, torch.nn.functional.avg_pool2d(
            x, 5, stride=1, padding=2))
    results = []
    for path in (whole, vrt):
        with RasterSource(path) as src:
            assert src.shape == (3, 70, 90) and src.transform == T
            assert np.array_equal(src.read(0, 70, 0, 90).numpy(), data.astype(np.float32))
            got = LabelCollector(height=70, width=90, num_classes=4, probs=True)
            sliding_window_inference(src, predictor, window=32, overlap=0.25, num_classes=4,
                                     sink=FanOut([got], 4), batch_size=3)
            results.append(got)
    assert np.array_equal(results[0].labels, results[1].labels)
    assert np.array_equal(results[0].probs, results[1].probs)


def test_vrt_keeps_nodata_and_fills_gaps_with_it(tmp_path):
    data = _scene()
    paths = _tiles(tmp_path, data, nodata=0)
    vrt = write_mosaic_vrt([paths[0], paths[3]], tmp_path / 'gap.vrt')  # two corners only
    with RasterSource(vrt) as src:
        assert src.nodata == 0 and src.masked
        valid = src.read_valid(0, 70, 0, 90).numpy()
    assert valid[:37, :52].all() and valid[37:, 52:].all()
    assert not valid[:37, 52:].any() and not valid[37:, :52].any()


def test_mosaic_errors_name_the_member(tmp_path):
    data = _scene()
    a = _write(tmp_path / 'a.tif', data, T)
    b = _write(tmp_path / 'b.tif', data[:2], from_origin(T.c + 900, T.f, 10, 10))
    with pytest.raises(MosaicError, match=r"member '.*b.tif' has 2 band\(s\) but '.*a.tif' "
                                          'has 3: every member needs the same bands'):
        write_mosaic_vrt([a, b], tmp_path / 'x.vrt')
    c = _write(tmp_path / 'c.tif', data.astype(np.float32), from_origin(T.c + 900, T.f, 10, 10))
    with pytest.raises(MosaicError, match='is float32 but .* is uint16'):
        write_mosaic_vrt([a, c], tmp_path / 'x.vrt')
    d = _write(tmp_path / 'd.tif', data, from_origin(T.c + 905, T.f, 10, 10))
    with pytest.raises(MosaicError, match=r'off the pixel grid .* by \(0.500, 0.000\)'):
        write_mosaic_vrt([a, d], tmp_path / 'x.vrt')
    e = _write(tmp_path / 'e.tif', data, from_origin(T.c + 900, T.f, 20, 20))
    with pytest.raises(MosaicError, match='pixels of 20 x 20 but .* of 10 x 10'):
        write_mosaic_vrt([a, e], tmp_path / 'x.vrt')
    import cv2
    cv2.imwrite(str(tmp_path / 'plain.png'), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(MosaicError, match="'.*plain.png' has no CRS"):
        write_mosaic_vrt([a, tmp_path / 'plain.png'], tmp_path / 'x.vrt')
    assert not (tmp_path / 'x.vrt').exists()
