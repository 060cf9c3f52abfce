"""A segmentor as the sliding-window engine's predictor, composed in one place: the plain
window predictor, test-time augmentation around it, and the images per forward pass probed
on this machine. ``alt.predict`` and ``AltairTTAModel`` both compose through here."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from altair.inference.autotune import tuned_batch
from altair.inference.tta import tta_predictor
from altair.inference.uncertainty import TTA_MEASURES
from altair.models.segmentor import window_predictor


def composed_predictor(segmentor, *, transforms: Sequence[str] | None = None,
                       scales: Sequence[float] = (1.0,), merge: str = 'soft_vote',
                       uncertainty: str | None = None, max_batch: int | None = None,
                       channels_last: bool = False) -> tuple[Callable[[Tensor], Tensor], int]:
    """(predictor, channels): ``segmentor`` as a (B, C, h, w) → (B, channels, h, w) callable,
    through test-time augmentation when ``transforms`` are named (``max_batch`` views per
    forward pass); ``channels`` is K, plus one for a TTA uncertainty measure."""
    predictor = window_predictor(segmentor)
    tta_measure = uncertainty if uncertainty in TTA_MEASURES else None
    if transforms is not None:
        predictor = tta_predictor(predictor, transforms=transforms, scales=scales, merge=merge,
                                  max_batch=max_batch, channels_last=channels_last,
                                  uncertainty=tta_measure)
    return predictor, segmentor.out_channels + (tta_measure is not None)


def images_per_call(segmentor, *, shape: tuple[int, int, int], device: torch.device,
                    precision: str, channels_last: bool, fallback: int, probe: bool = True,
                    log: Callable[[str], None] | None = None) -> int:
    """Windows (or TTA views) of ``shape`` (C, h, w) per forward pass: the fastest per image
    on this machine, measured once per architecture, device, window and precision and cached
    (``altair.inference.autotune``); ``probe=False`` reads the cache only (``fallback``)."""
    return tuned_batch(window_predictor(segmentor), segmentor, shape=shape, device=device,
                       precision=precision, channels_last=channels_last, fallback=fallback,
                       probe=probe, log=log)
