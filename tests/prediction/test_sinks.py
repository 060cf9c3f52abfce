"""Every sink reads one decoded band: one argmax per band whatever the sinks, and the same
labels, probabilities and uncertainty as decoding for each sink alone (NumPy reference)."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch

import altair.prediction.sinks as sinks
from altair.prediction.polygons import PolygonWriter
from altair.prediction.sinks import FanOut, decode
from altair.prediction.writers import LabelCollector, PredictionWriter

K, H, W = 3, 24, 20


def _logits(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(K, H, W, generator=g) * 3


def test_one_argmax_per_band_for_every_set_of_sinks(tmp_path, monkeypatch):
    real, calls = sinks.labels_from_logits, []

    def counting(scores):
        calls.append(tuple(scores.shape))
        return real(scores)
    monkeypatch.setattr(sinks, 'labels_from_logits', counting)
    logits = _logits()
    valid = torch.ones(H, W, dtype=torch.bool)
    valid[:, :4] = False
    writer = PredictionWriter(tmp_path / 'l.tif', height=H, width=W, num_classes=K,
                              probs_path=tmp_path / 'p.tif', probs_dtype='float32',
                              masked=True, uncertainty='entropy',
                              uncertainty_path=tmp_path / 'u.tif')
    collector = LabelCollector(height=H, width=W, num_classes=K, probs=True,
                               uncertainty='entropy')
    with pytest.warns(UserWarning, match='no CRS'):
        polygons = PolygonWriter(tmp_path / 'r.geojson', width=W, height=H, num_classes=K)
    fan = FanOut([writer, collector, polygons], K)
    for row0 in range(0, H, 8):  # three bands
        fan(row0, logits[:, row0:row0 + 8], valid[row0:row0 + 8])
    written = {**writer.close(), **polygons.close()}
    assert calls == [(K, 8, W)] * 3  # one argmax per band, not one per sink
    # the references: NumPy's argmax and softmax
    ref = logits.numpy().argmax(0)
    e = np.exp(logits.numpy() - logits.numpy().max(0))
    probs = e / e.sum(0)
    expect = np.where(valid.numpy(), ref, 255)
    np.testing.assert_array_equal(collector.labels, expect)
    with rasterio.open(written['labels']) as ds:
        np.testing.assert_array_equal(ds.read(1), expect)
    with rasterio.open(written['probs']) as ds:
        np.testing.assert_allclose(ds.read()[:, valid.numpy()], probs[:, valid.numpy()],
                                   rtol=1e-5)
    entropy = -(probs * np.log(probs)).sum(0) / np.log(K)  # normalised to [0, 1]
    np.testing.assert_allclose(collector.uncertainty[valid.numpy()],
                               entropy[valid.numpy()], rtol=1e-4, atol=1e-6)
    assert np.isnan(collector.uncertainty[~valid.numpy()]).all()
    assert written['polygons'].is_file()


def test_decode_computes_probabilities_only_when_asked():
    band = decode(0, _logits(), None, K)
    assert band.probs is None and band.uncertainty is None
    assert torch.equal(band.labels, band.argmax) and band.rows == H
    assert decode(0, _logits(), None, K, probs=True).probs.shape == (K, H, W)
    fan = FanOut([LabelCollector(height=H, width=W, num_classes=K)], K)
    assert (fan.probs, fan.uncertainty) == (False, None)


def test_sinks_asking_for_different_measures_are_refused():
    a = LabelCollector(height=H, width=W, num_classes=K, uncertainty='entropy')
    b = LabelCollector(height=H, width=W, num_classes=K, uncertainty='margin')
    with pytest.raises(ValueError, match='different uncertainty measures'):
        FanOut([a, b], K)


def test_a_row_offset_writes_a_block_from_its_own_row_0(tmp_path):
    collector = LabelCollector(height=8, width=W, num_classes=K)
    FanOut([collector], K, row_offset=16)(16, _logits()[:, 16:24])
    np.testing.assert_array_equal(collector.labels, _logits().numpy().argmax(0)[16:24])
