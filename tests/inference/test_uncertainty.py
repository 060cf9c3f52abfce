"""Uncertainty measures against NumPy references on known views."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from altair.inference.sliding import sliding_window_inference
from altair.inference.tta import TTAConfigError, make_views, tta_predictor
from altair.inference.uncertainty import (UncertaintyError, check_measure, entropy, margin,
                                          tta_agreement, tta_variance)
from altair.prediction.sinks import FanOut
from altair.prediction.writers import LabelCollector


def _softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def test_entropy_and_margin_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 7, 9)) * 3
    p = _softmax(logits, 0)
    ref_entropy = -(p * np.log(p)).sum(0) / np.log(5)
    top = np.sort(p, 0)
    assert np.allclose(entropy(torch.from_numpy(p).float()).numpy(), ref_entropy, atol=1e-6)
    assert np.allclose(margin(torch.from_numpy(p).float()).numpy(), top[-1] - top[-2],
                       atol=1e-6)
    uniform = torch.full((4, 2, 2), 0.25)
    onehot = torch.zeros(4, 2, 2)
    onehot[1] = 1
    assert torch.allclose(entropy(uniform), torch.ones(2, 2))
    assert torch.equal(entropy(onehot), torch.zeros(2, 2))
    assert torch.equal(margin(onehot), torch.ones(2, 2))


def _views_predictor():
    """A position-dependent predictor (so that views disagree) and its per-view outputs."""
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(4, 2, generator=gen)
    bias = torch.randn(4, 12, 12, generator=gen)  # fixed in window coordinates

    def predictor(x):
        return torch.einsum('kc,bchw->bkhw', weight, x) + bias
    return predictor


@pytest.mark.parametrize('merge', ['soft_vote', 'mean', 'hard_vote'])
def test_tta_measures_match_numpy_over_explicit_views(merge):
    predictor = _views_predictor()
    x = torch.randn(3, 2, 12, 12, generator=torch.Generator().manual_seed(2))
    views = make_views(['d4'])
    per_view = [v.inverse(predictor(v.forward(x))).numpy() for v in views]
    probs = np.stack([_softmax(v, 1) for v in per_view])  # (V, B, K, h, w)
    ref_var = probs.var(0).mean(1)
    wrapped = tta_predictor(predictor, transforms=['d4'], merge=merge, uncertainty='tta-variance')
    out = wrapped(x)
    assert out.shape == (3, 5, 12, 12)
    assert np.allclose(out[:, 4].numpy(), ref_var, atol=1e-6)
    merged = tta_predictor(predictor, transforms=['d4'], merge=merge)(x)
    assert torch.allclose(out[:, :4], merged)
    agree = tta_predictor(predictor, transforms=['d4'], merge=merge,
                          uncertainty='tta-agreement')(x)
    label = merged.argmax(1).numpy()
    ref_agree = np.mean([v.argmax(1) == label for v in per_view], 0)
    assert np.allclose(agree[:, 4].numpy(), ref_agree)
    assert ref_agree.min() < 1 and ref_agree.max() == 1  # views do disagree somewhere


def test_running_helpers_equal_their_definitions():
    rng = np.random.default_rng(3)
    p = _softmax(rng.normal(size=(6, 2, 3, 4, 5)), 2)
    var = tta_variance(torch.from_numpy(p.sum(0)), torch.from_numpy((p ** 2).sum(0)), 6)
    assert np.allclose(var.numpy(), p.var(0).mean(1))
    votes = np.stack([(p.argmax(2) == k).sum(0) for k in range(3)], 1).astype(np.float64)
    merged = p.mean(0)
    ref = np.take_along_axis(votes, merged.argmax(1)[:, None], 1)[:, 0] / 6
    assert np.allclose(tta_agreement(torch.from_numpy(votes), torch.from_numpy(merged), 6), ref)


def test_tta_measure_inside_sliding_windows():
    """Each window's TTA variance, blended with the window weights (a NumPy loop over the
    grid as the reference), is what the collector receives."""
    from altair.inference.blend import blend_weights
    from altair.inference.grid import window_grid
    gen = torch.Generator().manual_seed(4)
    weight = torch.randn(3, 2, generator=gen)

    def local(x):  # a pixel and its right neighbour: hflip views disagree
        shifted = torch.cat([x[..., 1:], x[..., -1:]], -1)
        return torch.einsum('kc,bchw->bkhw', weight, x + 2 * shifted)
    image = torch.randn(2, 40, 52, generator=gen)
    wrapped = tta_predictor(local, transforms=['hflip'], uncertainty='tta-variance')
    got = LabelCollector(height=40, width=52, num_classes=3, uncertainty='tta-variance')
    sliding_window_inference(image, wrapped, window=16, overlap=0.5, num_classes=4,
                             sink=FanOut([got], 3))
    acc, wsum = np.zeros((40, 52)), np.zeros((40, 52))
    wt = blend_weights((16, 16)).double().numpy()
    for y, x in window_grid(40, 52, (16, 16), (8, 8)):
        unc = wrapped(image[None, :, y:y + 16, x:x + 16])[0, 3].double().numpy()
        acc[y:y + 16, x:x + 16] += wt * unc
        wsum[y:y + 16, x:x + 16] += wt
    assert got.uncertainty.max() > 1e-3
    assert np.allclose(got.uncertainty, acc / wsum, atol=1e-5)


def test_bad_measures():
    with pytest.raises(UncertaintyError, match="unknown uncertainty 'variance'"):
        check_measure('variance', tta=True)
    with pytest.raises(UncertaintyError, match='needs test-time augmentation'):
        check_measure('tta-agreement', tta=False)
    assert check_measure('entropy', tta=False) == 'entropy'
    with pytest.raises(TTAConfigError, match='unknown TTA uncertainty'):
        tta_predictor(lambda x: x, uncertainty='entropy')
