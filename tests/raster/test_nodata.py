"""Nodata end to end: which windows are skipped, what is written, and that the labels where
the data is equal those of the same image predicted without a mask."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F
from rasterio.transform import from_origin

from altair.inference.grid import window_grid
from altair.inference.sliding import sliding_window_inference
from altair.prediction.sinks import FanOut
from altair.prediction.writers import LabelCollector, PredictionWriter
from altair.raster.errors import NodataValueError
from altair.raster.nodata import check_nodata, invalid_pixels
from altair.raster.sources import RasterSource, TensorSource

K = 3
WEIGHT = torch.tensor([[1.0, -0.5], [-0.3, 1.0], [0.4, 0.4]])


def predictor(x):
    """Per-sample 3x3 mean then a 2 → 3 mix: deterministic whatever the batch holds."""
    return torch.einsum('kc,bchw->bkhw', WEIGHT, F.avg_pool2d(x, 3, stride=1, padding=1))


def scene(nodata=0):
    """(2, 70, 90) uint16 with a 20-px nodata frame on the left and top and two holes."""
    rng = np.random.default_rng(0)
    img = rng.integers(1, 1000, (2, 70, 90)).astype(np.uint16)
    img[:, :, :20] = nodata
    img[:, :20, :] = nodata
    img[:, 40:44, 50:60] = nodata
    img[:, 60, 70] = nodata
    return img


def test_check_nodata_range():
    assert check_nodata(0, 'uint8', 'a.tif') == 0.0 and check_nodata(-9999, 'int16', 'a') == -9999
    assert np.isnan(check_nodata(float('nan'), 'float32', 'a'))
    for value, dtype in [(300, 'uint8'), (-1, 'uint16'), (1.5, 'int16'), (float('nan'), 'uint8')]:
        with pytest.raises(NodataValueError, match=rf"'a.tif' \({dtype}\) can hold"):
            check_nodata(value, dtype, 'a.tif')


def test_invalid_pixels_needs_every_band_or_a_nan():
    data = np.array([[[0, 0, 5]], [[0, 7, 0]]], np.float32)
    assert invalid_pixels(data, 0).tolist() == [[True, False, False]]
    data[1, 0, 2] = np.nan
    assert invalid_pixels(data, None).tolist() == [[False, False, True]]


def test_nodata_windows_skipped_written_and_labels_unchanged_elsewhere():
    img = scene()
    valid = ~(img == 0).all(0)
    src = TensorSource(torch.from_numpy(img.astype(np.int32)), nodata=0)
    assert src.masked
    calls = []

    def counting(x):
        calls.append(x.shape[0])
        return predictor(x)
    stats = {}
    masked = LabelCollector(height=70, width=90, num_classes=K, probs=True)
    sliding_window_inference(src, counting, window=16, stride=12, num_classes=K, batch_size=5,
                             sink=FanOut([masked], K), valid=src.read_valid,
                             stats=stats)
    # a NumPy count of the windows holding no data pixel
    grid = window_grid(70, 90, (16, 16), (12, 12))
    empty = sum(not valid[y:y + 16, x:x + 16].any() for y, x in grid)
    assert empty > 10 and stats == dict(windows=len(grid), skipped=empty)
    assert sum(calls) == len(grid) - empty
    plain = LabelCollector(height=70, width=90, num_classes=K, probs=True)
    sliding_window_inference(torch.from_numpy(img.astype(np.float32)), predictor, window=16,
                             stride=12, num_classes=K, batch_size=5, sink=FanOut([plain], K))
    assert (masked.labels[~valid] == 255).all()
    assert np.array_equal(masked.labels[valid], plain.labels[valid])
    assert np.isnan(masked.probs[:, ~valid]).all()
    assert np.allclose(masked.probs[:, valid], plain.probs[:, valid], atol=1e-6)


def test_in_memory_result_carries_the_mask():
    img = torch.from_numpy(scene().astype(np.float32))
    src = TensorSource(img, nodata=0)
    logits, mask = sliding_window_inference(src, predictor, window=32, num_classes=K,
                                            valid=src.read_valid)
    assert logits.shape == (K, 70, 90)
    assert np.array_equal(mask.numpy(), ~(scene() == 0).all(0))


def _geotiff(path, data, **extra):
    profile = dict(driver='GTiff', width=data.shape[2], height=data.shape[1],
                   count=data.shape[0], dtype=data.dtype.name, crs='EPSG:32633',
                   transform=from_origin(500000, 4000000, 10, 10), tiled=True,
                   blockxsize=16, blockysize=16, **extra)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)
    return path


def test_raster_source_nodata_from_file_override_alpha_and_nan(tmp_path):
    img = scene()
    with RasterSource(_geotiff(tmp_path / 'a.tif', img, nodata=0), fill=[7, 9]) as src:
        assert src.masked and src.nodata == 0
        assert np.array_equal(src.read_valid(0, 70, 0, 90).numpy(), ~(img == 0).all(0))
        window = src.read(15, 25, 15, 25).numpy()  # nodata pixels read as the fill
        bad = (img[:, 15:25, 15:25] == 0).all(0)
        assert (window[0][bad] == 7).all() and (window[1][bad] == 9).all()
        assert np.array_equal(window[:, ~bad], img[:, 15:25, 15:25][:, ~bad].astype(np.float32))
    with RasterSource(tmp_path / 'a.tif', nodata=5) as src:  # --nodata overrides the file
        assert src.nodata == 5
        assert src.read_valid(0, 70, 0, 90).numpy().all()  # no pixel is 5 in both bands
    with pytest.raises(NodataValueError, match='outside'):
        RasterSource(tmp_path / 'a.tif', nodata=70000)
    # an alpha band: excluded from the bands, used as the mask
    alpha = np.where((img == 0).all(0), 0, 255).astype(np.uint16)[None]
    path = _geotiff(tmp_path / 'rgba.tif', np.concatenate([img, img[:1], alpha]),
                    photometric='RGB', alpha='YES')
    with RasterSource(path) as src:
        assert src.bands == [1, 2, 3] and src.shape == (3, 70, 90) and src.masked
        assert np.array_equal(src.read_valid(0, 70, 0, 90).numpy(), alpha[0] > 0)
    # a plain uint16 file without nodata: nothing masked, unless the model's value applies
    with RasterSource(_geotiff(tmp_path / 'p.tif', img)) as src:
        assert not src.masked
    with RasterSource(tmp_path / 'p.tif', default_nodata=0) as src:
        assert src.masked and src.nodata == 0
    flt = img.astype(np.float32)
    flt[:, (img == 0).all(0)] = np.nan
    with RasterSource(_geotiff(tmp_path / 'f.tif', flt)) as src:
        assert src.masked and src.nodata is None
        assert np.array_equal(src.read_valid(0, 70, 0, 90).numpy(), ~(img == 0).all(0))
        assert not np.isnan(src.read(0, 70, 0, 90).numpy()).any()


def test_written_outputs_carry_nodata(tmp_path):
    img = scene()
    valid = ~(img == 0).all(0)
    with RasterSource(_geotiff(tmp_path / 'a.tif', img, nodata=0)) as src:
        with PredictionWriter(tmp_path / 'l.tif', height=70, width=90, num_classes=K,
                              transform=src.transform, crs=src.crs, masked=True,
                              probs_path=tmp_path / 'p8.tif') as w8:
            sliding_window_inference(src, predictor, window=16, num_classes=K, sink=FanOut([w8], K),
                                     valid=src.read_valid)
            w8.close()
        with PredictionWriter(tmp_path / 'l2.tif', height=70, width=90, num_classes=K,
                              masked=True, probs_path=tmp_path / 'p32.tif',
                              probs_dtype='float32', uncertainty='entropy',
                              uncertainty_path=tmp_path / 'u.tif') as w32:
            sliding_window_inference(src, predictor, window=16, num_classes=K,
                                     sink=FanOut([w32], K),
                                     valid=src.read_valid)
            w32.close()
    with rasterio.open(tmp_path / 'l.tif') as ds:
        labels = ds.read(1)
        assert ds.nodata == 255 and (labels[~valid] == 255).all() and labels[valid].max() < K
        assert np.array_equal(ds.read_masks(1) > 0, valid)
    with rasterio.open(tmp_path / 'p8.tif') as ds:  # every byte is a probability: a mask band
        assert ds.nodata is None and np.array_equal(ds.dataset_mask() > 0, valid)
    with rasterio.open(tmp_path / 'p32.tif') as ds, rasterio.open(tmp_path / 'u.tif') as u:
        assert np.isnan(ds.nodata) and np.isnan(ds.read()[:, ~valid]).all()
        assert not np.isnan(ds.read()[:, valid]).any()
        unc = u.read(1)
        assert u.descriptions == ('entropy',) and np.isnan(unc[~valid]).all()
        assert (unc[valid] >= 0).all() and (unc[valid] <= 1).all()
