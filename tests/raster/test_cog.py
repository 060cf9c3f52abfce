"""Cloud-Optimized GeoTIFF output: valid layout, overviews by mode / average, colour table."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from altair.prediction.sinks import FanOut
from altair.prediction.writers import PredictionWriter
from altair.raster.write import write_cog

TRANSFORM = from_origin(500000, 4000000, 10, 10)
K = 8
PALETTE = [(200, 0, 0), (0, 200, 0), (0, 0, 200)] + [(k, k, k) for k in range(5)]


def _labels(h=600, w=520):
    """Every 2x2 block holds three pixels of class m = block index % 4 and one of m + 4: the
    mode is m, the average m + 1."""
    yy, xx = np.mgrid[:h, :w]
    major = ((yy // 2) + (xx // 2)) % 4
    return np.where((yy % 2 == 1) & (xx % 2 == 1), major + 4, major)


def _logits(labels):
    return torch.from_numpy(np.stack([(labels == k) * 4.0 for k in range(K)])).float()


def test_cog_layout_overviews_and_colour_table(tmp_path):
    from rio_cogeo.cogeo import cog_validate
    labels = _labels()
    with PredictionWriter(tmp_path / 'l.tif', height=600, width=520, num_classes=K,
                          transform=TRANSFORM, crs='EPSG:32633', palette=PALETTE,
                          probs_path=tmp_path / 'p.tif', probs_dtype='float32',
                          format='cog') as w:
        logits = _logits(labels)
        for row0 in range(0, 600, 100):  # streamed in bands, as the engine does
            FanOut([w], K)(row0, logits[:, row0:row0 + 100])
        written = w.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['l.tif', 'p.tif']
    for kind in ('labels', 'probs'):
        valid, errors, _ = cog_validate(str(written[kind]), quiet=True)
        assert valid and not errors, (kind, errors)
    with rasterio.open(written['labels']) as ds:
        assert ds.block_shapes[0] == (256, 256) and ds.overviews(1) == [2, 4]
        assert ds.crs.to_epsg() == 32633 and ds.transform == TRANSFORM and ds.nodata == 255
        assert ds.colormap(1)[2] == (0, 0, 200, 255)
        assert np.array_equal(ds.read(1), labels)
    with rasterio.open(written['labels'], overview_level=0) as ov:  # half resolution: mode
        assert np.array_equal(ov.read(1), labels[::2, ::2])
    probs = torch.softmax(_logits(labels), 0).numpy()
    with rasterio.open(written['probs'], overview_level=0) as ov:  # average of each 2x2 block
        expected = probs.reshape(K, 300, 2, 260, 2).mean((2, 4))
        assert np.allclose(ov.read(), expected, atol=1e-6)


def test_gtiff_format_is_the_streamed_file(tmp_path):
    with PredictionWriter(tmp_path / 'l.tif', height=600, width=520, num_classes=K,
                          format='gtiff') as w:
        FanOut([w], K)(0, _logits(_labels()))
        w.close()
    with rasterio.open(tmp_path / 'l.tif') as ds:
        assert ds.overviews(1) == [] and ds.block_shapes[0] == (256, 256)


def test_write_cog_is_atomic(tmp_path):
    with pytest.raises(Exception):
        write_cog(tmp_path / 'missing.tif', tmp_path / 'out.tif')
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('fmt', ['cog', 'gtiff'])
def test_row_blocks_joined_equal_one_writer(tmp_path, fmt):
    """Blocks written with finish=False and joined by stack_rows give the bytes one writer
    gives: colour table, nodata, uint8 probabilities with their mask, uncertainty."""
    from rasterio.transform import Affine

    from altair.prediction.writers import OVERVIEW_RESAMPLING
    from altair.raster.write import stack_rows
    labels = _labels()
    logits = _logits(labels)
    valid = torch.ones(600, 520, dtype=torch.bool)
    valid[:, :90] = False  # a nodata frame and a hole across the block seam
    valid[280:330, 200:260] = False

    def writer(folder, height, top=0):
        return PredictionWriter(
            folder / 'labels.tif', height=height, width=520, num_classes=K,
            transform=TRANSFORM @ Affine.translation(0, top), crs='EPSG:32633',
            palette=PALETTE, masked=True, probs_path=folder / 'probs.tif',
            uncertainty='entropy', uncertainty_path=folder / 'uncertainty.tif',
            format=fmt, finish=folder.name == 'one')
    (tmp_path / 'one').mkdir()
    with writer(tmp_path / 'one', 600) as w:
        for row0 in range(0, 600, 100):
            FanOut([w], K)(row0, logits[:, row0:row0 + 100], valid[row0:row0 + 100])
        whole = w.close()
    parts = []
    # the same bands as the whole (the engine emits at the same grid rows either way;
    # elementwise maths on other band shapes may differ in the last bit)
    for i, (top, stop) in enumerate([(0, 300), (300, 400), (400, 600)]):
        folder = tmp_path / f'block{i}'
        folder.mkdir()
        with writer(folder, stop - top, top) as w:
            for row0 in range(top, stop, 100):
                FanOut([w], K, row_offset=top)(row0, logits[:, row0:row0 + 100],
                                               valid[row0:row0 + 100])
            parts.append(w.close())
    for kind in ('labels', 'probs', 'uncertainty'):
        joined = stack_rows([p[kind] for p in parts], tmp_path / f'{kind}.tif', format=fmt,
                            resampling=OVERVIEW_RESAMPLING[kind])
        assert joined.read_bytes() == whole[kind].read_bytes(), kind
    with rasterio.open(tmp_path / 'probs.tif') as ds:
        assert np.array_equal(ds.read_masks(1) > 0, valid.numpy())
