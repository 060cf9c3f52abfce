"""Altair's segmentor: mmseg's EncoderDecoder with the bounded-memory sliding-window engine."""
from __future__ import annotations

from typing import Callable

import torch
from mmseg.models.segmentors import EncoderDecoder
from torch import Tensor

from altair.inference.sliding import sliding_window_inference
from altair.registry import MODELS


def window_predictor(segmentor) -> Callable[[Tensor], Tensor]:
    """``segmentor.encode_decode`` as a (B, C, h, w) → (B, K, h, w) predictor, with fresh
    metainfo per call (mmseg's own slide_inference overwrites the caller's)."""
    def predictor(x: Tensor) -> Tensor:
        metas = [dict(img_shape=x.shape[2:], ori_shape=x.shape[2:], pad_shape=x.shape[2:])]
        return segmentor.encode_decode(x, metas * x.shape[0])
    return predictor


def slide_logits(inputs: Tensor, predictor: Callable[[Tensor], Tensor], test_cfg,
                 num_classes: int) -> Tensor:
    """(N, C, H, W) → (N, K, H, W) with :func:`sliding_window_inference` configured by the
    ``test_cfg`` keys ``crop_size``, ``stride`` or ``overlap``, ``batch_size`` (4), ``blend``
    (``'gaussian'``), ``precision`` (``'auto'``: bf16 where native, else fp32) and
    ``accumulate_device`` (the input's)."""
    stride = test_cfg.get('stride')
    if stride is not None and test_cfg.get('overlap') is not None:
        raise ValueError("test_cfg: give 'stride' or 'overlap', not both")
    return torch.stack([sliding_window_inference(
        image, predictor, window=tuple(test_cfg['crop_size']),
        stride=None if stride is None else tuple(stride), overlap=test_cfg.get('overlap'),
        num_classes=num_classes, batch_size=test_cfg.get('batch_size', 4),
        blend=test_cfg.get('blend', 'gaussian'), precision=test_cfg.get('precision', 'auto'),
        device=image.device, accumulate_device=test_cfg.get('accumulate_device', image.device))
        for image in inputs])


@MODELS.register_module()
class AltairEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` whose ``test_cfg=dict(mode='slide', ...)`` runs
    :func:`altair.inference.sliding_window_inference` (see :func:`slide_logits`): batched
    windows, blended overlaps, logits stitched in float32, the caller's metainfo untouched.
    Training and whole-image inference are mmseg's.
    """

    def slide_inference(self, inputs: Tensor, batch_img_metas: list[dict]) -> Tensor:
        return slide_logits(inputs, window_predictor(self), self.test_cfg, self.out_channels)
