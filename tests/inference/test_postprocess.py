"""Labels and the probability of each pixel's label, against torch's argmax and softmax."""
from __future__ import annotations

import pytest
import torch

from altair.inference.postprocess import label_probability, labels_from_logits


def test_labels_and_their_probability_match_argmax_and_softmax():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 33, 41, generator=gen) * 6
    logits[:, 0, 0] = 2.0  # a tie: the lowest index, as argmax
    labels = labels_from_logits(logits)
    assert torch.equal(labels, logits.argmax(0))
    expected = torch.softmax(logits, 0).gather(0, labels[None])[0]
    got = label_probability(logits, labels)
    assert got.dtype == torch.float32 and torch.allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert float(got[0, 0]) == pytest.approx(1 / 7, rel=1e-6)  # seven equal logits
    # logits far beyond exp's range: the exponents (differences to the label's logit) are
    # <= 0, so nothing overflows; equal to the softmax there too
    huge = logits * 1e3
    assert torch.allclose(label_probability(huge, labels),
                          torch.softmax(huge, 0).gather(0, labels[None])[0], atol=1e-6)
