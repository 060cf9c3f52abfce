"""Altair's segmentor: mmseg's EncoderDecoder with the bounded-memory sliding-window engine."""
from __future__ import annotations

import torch
from mmseg.models.segmentors import EncoderDecoder
from torch import Tensor

from altair.inference.sliding import sliding_window_inference
from altair.registry import MODELS


@MODELS.register_module()
class AltairEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` whose ``test_cfg=dict(mode='slide', ...)`` runs
    :func:`altair.inference.sliding_window_inference`: batched windows, blended overlaps,
    logits stitched in float32, and the caller's metainfo left untouched.

    ``test_cfg`` keys for ``mode='slide'``: ``crop_size`` (h, w), ``stride`` (sy, sx) or
    ``overlap`` (0-1), and optionally ``batch_size`` (4), ``blend`` (``'gaussian'``),
    ``precision`` (``'fp32'``), ``accumulate_device`` (the input's device).
    Training and whole-image inference are mmseg's.
    """

    def slide_inference(self, inputs: Tensor, batch_img_metas: list[dict]) -> Tensor:
        cfg = self.test_cfg
        stride = cfg.get('stride')
        if stride is not None and cfg.get('overlap') is not None:
            raise ValueError("test_cfg: give 'stride' or 'overlap', not both")

        def predictor(windows: Tensor) -> Tensor:
            # fresh metainfo per call: mmseg's own slide_inference overwrites the caller's
            metas = [dict(img_shape=windows.shape[2:], ori_shape=windows.shape[2:],
                          pad_shape=windows.shape[2:])] * windows.shape[0]
            return self.encode_decode(windows, metas)

        out = [sliding_window_inference(
            image, predictor, window=tuple(cfg['crop_size']),
            stride=None if stride is None else tuple(stride), overlap=cfg.get('overlap'),
            num_classes=self.out_channels, batch_size=cfg.get('batch_size', 4),
            blend=cfg.get('blend', 'gaussian'), precision=cfg.get('precision', 'fp32'),
            device=image.device, accumulate_device=cfg.get('accumulate_device', image.device))
            for image in inputs]
        return torch.stack(out)
