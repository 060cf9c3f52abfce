"""Per-pixel uncertainty of a prediction (pure functions on tensors).

With K classes, ``p`` the blended softmax probabilities of a pixel and ``p(1) >= p(2)`` its two
largest:

- ``entropy``: ``-sum_k p_k ln p_k / ln K``, in [0, 1]; 0 = certain, 1 = uniform.
- ``margin``: ``p(1) - p(2)``, in [0, 1]; small = unsure between the two best classes.

Over the V views of test-time augmentation, with ``p_v`` the softmax of view v (after its
inverse transform) and ``m`` the merged prediction's label:

- ``tta-variance``: ``(1/K) sum_k Var_v(p_vk)`` (population variance over the views), in
  [0, 0.25]; 0 = every view agrees exactly.
- ``tta-agreement``: the fraction of views whose own label is ``m``, in [1/V, 1]; 1 = unanimous.

The TTA measures are computed inside each window from running sums over the views (no view
is kept) and, like the logits, blended across overlapping windows with the window weights.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from altair.errors import AltairError

MEASURES = ('entropy', 'margin', 'tta-variance', 'tta-agreement')
TTA_MEASURES = ('tta-variance', 'tta-agreement')


class UncertaintyError(AltairError, ValueError):
    """An unknown uncertainty measure, or a TTA measure without TTA."""


def check_measure(measure: str, *, tta: bool) -> str:
    """``measure`` if known (and, for a TTA measure, TTA is on)."""
    if measure not in MEASURES:
        raise UncertaintyError(f"unknown uncertainty '{measure}'; choose one of "
                               f"{', '.join(MEASURES)}")
    if measure in TTA_MEASURES and not tta:
        raise UncertaintyError(f"uncertainty '{measure}' needs test-time augmentation "
                               '(--tta / tta=True)')
    return measure


def entropy(probs: Tensor, dim: int = 0) -> Tensor:
    """Normalised entropy of ``probs`` along ``dim`` (the K classes), in [0, 1]."""
    k = probs.shape[dim]
    if k < 2:
        return torch.zeros_like(probs.select(dim, 0))
    plogp = torch.where(probs > 0, probs * probs.clamp_min(1e-30).log(), torch.zeros_like(probs))
    return (-plogp.sum(dim) / math.log(k)).clamp_(0.0, 1.0)


def margin(probs: Tensor, dim: int = 0) -> Tensor:
    """Difference of the two largest probabilities along ``dim`` (1 with one class)."""
    if probs.shape[dim] < 2:
        return torch.ones_like(probs.select(dim, 0))
    top = probs.topk(2, dim=dim).values
    return top.select(dim, 0) - top.select(dim, 1)


def tta_variance(sum_p: Tensor, sum_p2: Tensor, n: int, dim: int = 1) -> Tensor:
    """Mean over classes (``dim``) of the variance over ``n`` views, from the running sums
    of the probabilities and of their squares."""
    mean = sum_p / n
    return (sum_p2 / n - mean * mean).clamp_min_(0.0).mean(dim)


def tta_agreement(votes: Tensor, merged: Tensor, n: int, dim: int = 1) -> Tensor:
    """Fraction of ``n`` views voting for the merged label: ``votes`` counts, per class
    (``dim``), the views whose argmax it is; ``merged`` is the merged scores."""
    labels = merged.argmax(dim, keepdim=True)  # ties to the lowest index, as the labels
    return votes.gather(dim, labels).squeeze(dim) / n
