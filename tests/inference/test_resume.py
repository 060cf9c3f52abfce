"""Resuming the sliding-window engine from any checkpoint gives the uninterrupted bands bit
for bit, even with a predictor whose output depends on what else is in its batch; so does a
replay from a batch start (``altair.inference.shard``)."""
from __future__ import annotations

import pytest
import torch

from altair.inference.sliding import TensorSource, sliding_window_inference
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
