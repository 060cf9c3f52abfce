"""Altair's segmentor: mmseg's EncoderDecoder with the bounded-memory sliding-window engine
and, for class-weighted losses, logit adjustment at inference."""
from __future__ import annotations

import math
from typing import Callable

import torch
from mmseg.models.segmentors import EncoderDecoder
from torch import Tensor

from altair.inference.sliding import sliding_window_inference
from altair.registry import MODELS


def adjusted(logits: Tensor, offsets: Tensor | None) -> Tensor:
    """``logits`` (N, K, h, w) plus per-class ``offsets`` (1, K, 1, 1), in the logits' dtype."""
    return logits if offsets is None else logits + offsets.to(logits.dtype)


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


def class_weight_adjustment(class_weight) -> list[float]:
    """Per-class logit offsets ``-log w_c`` that undo a cross-entropy's class weights at
    inference (post-hoc logit adjustment, Menon et al., "Long-tail learning via logit
    adjustment", ICLR 2021): the minimiser of a cross-entropy weighted by ``w`` has softmax
    ``∝ w_c p(c | x)``, so ``logits - log w`` ranks the classes by ``p(c | x)`` again. The
    weights still shape what is learnt (the rare class's features); the offsets only remove
    the bias towards predicting it, which costs its precision and so its IoU."""
    weights = [float(w) for w in class_weight]
    if not weights or min(weights) <= 0 or not all(map(math.isfinite, weights)):
        raise ValueError(f'class weights {weights}: expected positive finite numbers')
    return [-math.log(w) for w in weights]


def loss_class_weight(decode_head) -> list[float] | None:
    """The class weights of the decode head's cross-entropy term (None without one)."""
    losses = decode_head.loss_decode
    for loss in (losses if isinstance(losses, torch.nn.ModuleList) else [losses]):
        weight = getattr(loss, 'class_weight', None)
        if 'CrossEntropy' in type(loss).__name__ and weight is not None:
            return list(weight)
    return None


@MODELS.register_module()
class AltairEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` whose ``test_cfg=dict(mode='slide', ...)`` runs
    :func:`altair.inference.sliding_window_inference` (see :func:`slide_logits`): batched
    windows, blended overlaps, logits stitched in float32, the caller's metainfo untouched.
    Training and whole-image inference are mmseg's.

    ``test_cfg=dict(adjust_logits='class_weight')`` subtracts the log of the decode head's
    cross-entropy class weights from the logits of every prediction
    (:func:`class_weight_adjustment`); the loss is untouched. Without class weights (the
    loss built outside ``altair train``, which resolves ``'auto'``) nothing is subtracted.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        how = (self.test_cfg or {}).get('adjust_logits')
        if how not in (None, 'class_weight'):
            raise ValueError(f"model.test_cfg.adjust_logits {how!r}: expected 'class_weight' "
                             'or None')
        weight = loss_class_weight(self.decode_head) if how else None
        offsets = None if weight is None else torch.tensor(
            class_weight_adjustment(weight), dtype=torch.float32).view(1, -1, 1, 1)
        # not in the state dict: it follows from the config's loss, and checkpoints of the
        # same model load with or without it
        self.register_buffer('logit_offsets', offsets, persistent=False)

    def encode_decode(self, inputs: Tensor, batch_img_metas: list[dict]) -> Tensor:
        logits = super().encode_decode(inputs, batch_img_metas)
        return adjusted(logits, self.logit_offsets)

    def slide_inference(self, inputs: Tensor, batch_img_metas: list[dict]) -> Tensor:
        return slide_logits(inputs, window_predictor(self), self.test_cfg, self.out_channels)
