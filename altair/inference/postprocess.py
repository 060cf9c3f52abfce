"""Turning stitched logits into labels (pure functions)."""
from __future__ import annotations

import torch
from torch import Tensor


def labels_from_logits(logits: Tensor) -> Tensor:
    """Class index of the largest logit: (K, H, W) → (H, W) int64, ties to the lowest index
    (as ``argmax``).

    ``logits.argmax(0)`` reduces over the outermost, strided dimension, which PyTorch's CPU
    kernels do about 10x slower than K element-wise passes (2.2 s vs 0.2 s for 8 x 2700 x 5400).
    """
    best = logits[0].clone()
    labels = torch.zeros(logits.shape[1:], dtype=torch.int64, device=logits.device)
    for k in range(1, logits.shape[0]):
        better = logits[k] > best
        best = torch.where(better, logits[k], best)
        labels.masked_fill_(better, k)
    return labels


def label_probability(logits: Tensor, labels: Tensor) -> Tensor:
    """(H, W) float32 softmax probability of each pixel's label, ``1 / Σ_k exp(l_k - l_label)``,
    from (K, H, W) logits and (H, W) labels in [0, K) (e.g. :func:`labels_from_logits`).

    Computed class by class with (H, W) temporaries: a band of a 30000-pixel-wide scene never
    holds a second (K, H, W) array (the full softmax would be K times the label map).
    """
    chosen = logits.gather(0, labels[None].clamp(0, logits.shape[0] - 1))[0].float()
    total = torch.zeros_like(chosen)
    for k in range(logits.shape[0]):
        total += torch.exp(logits[k].float() - chosen)
    return total.reciprocal_()
