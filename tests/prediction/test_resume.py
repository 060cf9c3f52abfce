"""Resuming the sliding-window engine from any checkpoint gives the uninterrupted bands bit
for bit, even with a predictor whose output depends on what else is in its batch; so does a
replay from a batch start (``altair.inference.shard``)."""
from __future__ import annotations

import pytest
import torch

from altair.inference.sliding import sliding_window_inference
from altair.raster.sources import TensorSource
from tests.inference.helpers import batch_dependent


def _run(src, resume=None, **kw):
    bands, points = [], []
    sliding_window_inference(
        src, batch_dependent, num_classes=3, resume=resume,
        sink=lambda y, b, v: bands.append((y, b.clone(), None if v is None else v.clone())),
        checkpoint=lambda done, w, band: points.append(
            (done, w, {k: None if v is None else v.clone() for k, v in band.items()})), **kw)
    return bands, points


@pytest.mark.parametrize('window,stride,batch', [(16, 12, 3), (16, 4, 5), (12, 12, 1),
                                                  (20, 7, 4)])
def test_resume_from_every_checkpoint_is_exact(window, stride, batch):
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 61, 47, generator=gen)
    image[:, 20:34, :] = float('nan')  # nodata rows: skipped windows change the batches
    src = TensorSource(image)
    assert src.masked
    kw = dict(window=window, stride=stride, batch_size=batch, valid=src.read_valid)
    full, points = _run(src, **kw)
    assert len(points) == len(full) - 1 >= 3
    for done, first, band in points:
        part, _ = _run(src, resume=(done, first, band), **kw)
        expected = [b for b in full if b[0] >= done]
        assert [b[0] for b in part] == [b[0] for b in expected]
        for (_, got, gv), (_, ref, rv) in zip(part, expected):
            assert torch.equal(got, ref) and torch.equal(gv, rv)


def test_a_checkpoint_band_of_another_shape_is_refused():
    band = dict(acc=torch.zeros(1, 4, 9), wsum=torch.zeros(4, 10), valid=None)
    with pytest.raises(ValueError, match=r"resume band 'acc' is \(1, 4, 9\), expected "
                                         r'\(1, 4, 10\)'):
        sliding_window_inference(torch.rand(1, 10, 10), lambda x: x, window=4, num_classes=1,
                                 resume=(4, 3, band), sink=lambda *a: None)


def test_resume_point_outside_the_image():
    with pytest.raises(ValueError, match='resume point'):
        sliding_window_inference(torch.rand(1, 10, 10), lambda x: x, window=4, num_classes=1,
                                 resume=(11, 0), sink=lambda *a: None)


def _fsync_spy(monkeypatch, on_sync=None):
    """Record the path behind every ``os.fsync`` (``/proc/self/fd``), in order; ``on_sync``
    sees each path as it is synced."""
    import os
    real, synced = os.fsync, []

    def spy(fd):
        path = os.readlink(f'/proc/self/fd/{fd}')
        real(fd)
        synced.append(path)
        if on_sync is not None:
            on_sync(path)
    monkeypatch.setattr(os, 'fsync', spy)
    return synced


def test_the_journal_is_fsynced_after_the_sums_it_names(tmp_path, monkeypatch):
    from altair.fileio import partial_path
    from altair.prediction.journal import journal_path, load_journal, save_journal
    synced = _fsync_spy(monkeypatch)
    journal = journal_path(tmp_path, 'scene')
    band = dict(acc=torch.rand(1, 2, 5), wsum=torch.rand(2, 5), valid=None)
    for rows in (4, 8):
        synced.clear()
        save_journal(journal, {'window': [4, 4]}, rows_done=rows, window=3, band=band)
        sums = tmp_path / f'.scene.journal.{rows}.npz'
        # the sums, their rename, the journal, its rename: each file before its folder entry
        assert synced == [str(partial_path(sums)), str(tmp_path),
                          str(partial_path(journal)), str(tmp_path)]
    state = load_journal(journal, {'window': [4, 4]})
    assert state['rows_done'] == 8 and torch.equal(torch.from_numpy(state['band']['acc']),
                                                   band['acc'])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.scene.journal.8.npz',
                                                          '.scene.journal.json']


@pytest.mark.parametrize('polygons_format', ['gpkg', 'geojson'])
def test_every_journal_is_fsynced_after_the_rows_it_names(tmp_path, monkeypatch, in_repo_root,
                                                         polygons_format):
    """A streamed prediction's checkpoints, watched through ``os.fsync``: each journal is
    synced only after the output files holding its rows (labels, probabilities, polygons)
    and its partial sums were synced since the journal before, and its folder entry right
    after it (so a crash of the machine never leaves a journal naming rows not on disk)."""
    import json
    from pathlib import Path

    import cv2
    import numpy as np
    from mmengine.registry import DefaultScope

    from altair.api.predict import load_model, predict
    from altair.config import load_config
    from altair.fileio import partial_path
    from altair.prediction.polygons import NoCrsWarning
    from altair.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config('configs/pspnet.py').model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'model.pth')
    net = load_model('configs/pspnet.py', tmp_path / 'model.pth', device='cpu')
    image = tmp_path / 'scene.png'
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 256, (150, 110, 3),
                                                              dtype=np.uint8))
    out = tmp_path / 'out'
    journal_tmp = str(partial_path(out / '.scene.journal.json'))
    journals = []  # what each journal said, read when it was synced
    synced = _fsync_spy(monkeypatch, lambda p: journals.append(json.loads(
        Path(p).read_text())) if p == journal_tmp else None)
    with pytest.warns(NoCrsWarning):  # a PNG: polygons in pixels
        predict(net, image, out_dir=out, sliding_window=True, window_size=(48, 48),
                overlap=0.5, window_batch=2, progress=False, save=('labels', 'probs', 'polygons'),
                polygons_format=polygons_format)
    outputs = [str(partial_path(out / name)) for name in
               ('scene_labels.tif', 'scene_probs.tif', f'scene_polygons.{polygons_format}')]
    assert synced.count(journal_tmp) == len(journals) >= 3
    since, checked = [], 0
    for i, path in enumerate(synced):
        if path != journal_tmp:
            since.append(path)
            continue
        state = journals[checked]
        sums = str(partial_path(out / state['band']))
        assert 0 < state['rows_done'] < 150
        assert outputs[0] in since and outputs[1] in since, (state['rows_done'], since)
        if state['polygons']['features'] or polygons_format == 'geojson':
            assert outputs[2] in since, (state['rows_done'], since)
        assert sums in since and since.index(sums) > max(since.index(o) for o in outputs[:2])
        assert synced[i + 1] == str(out)  # the rename, before any later write
        since, checked = [], checked + 1
    assert any(s['polygons']['features'] for s in journals)
    assert sorted(p.name for p in out.iterdir()) == [
        'scene_labels.tif', f'scene_polygons.{polygons_format}', 'scene_probs.tif']
