"""The model side of a prediction: what its data preprocessor does to a window, what nodata
is read as, the bands it takes, and one :class:`WindowPredictor` per image that the
sliding-window engine calls."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from altair.errors import AltairError
from altair.models.card import card_of
from altair.models.predictor import composed_predictor, images_per_call
from altair.prediction.options import PredictOptions

logger = logging.getLogger('altair')


class BandCountError(AltairError, ValueError):
    """An image whose number of bands is not the one the model was trained on."""


def flips_bands(model, bands: int) -> bool:
    """Whether 3-band windows (file order, RGB) are reversed for ``model`` (see
    :func:`input_transform`)."""
    pre = model.data_preprocessor
    file_order = card_of(model).raster.get('file_order', False)
    return bands == 3 and not file_order and not getattr(pre, 'channel_conversion', False)


def nodata_fill(model, bands: int) -> list[float]:
    """What nodata pixels are read as: the model's normalisation mean (zero once normalised,
    as ``LoadRaster(fill=mean)`` trains), in file band order; 0 without normalisation."""
    pre = model.data_preprocessor
    if not getattr(pre, '_enable_normalize', False):
        return [0.0] * bands
    mean = [float(v) for v in pre.mean.flatten()]
    return mean[::-1] if flips_bands(model, bands) else mean


def check_bands(model, bands: int, image: str = 'the image') -> None:
    """Refuse an image of ``bands`` bands for a model trained on another number (known from
    its per-band normalisation); ``image`` names it in the message (``"image 'a.tif'"``).

    Raises:
        BandCountError: naming the image, its band count and the model's.
    """
    pre = model.data_preprocessor
    if not getattr(pre, '_enable_normalize', False):
        return
    wanted = int(pre.mean.shape[0])
    if wanted != bands:
        raise BandCountError(f'{image} has {bands} band(s) but the model was trained on '
                             f'{wanted}: give images with the {wanted} bands it was trained on')


def input_transform(model, bands: int) -> Callable[[Tensor], Tensor]:
    """What the model's data preprocessor does to a loaded image, for (B, bands, h, w) windows
    whose bands are in file order (RGB for 3-band images).

    mmseg trains on OpenCV-loaded (BGR) images: with ``bgr_to_rgb=True`` the model sees RGB —
    our order already; without it the model sees BGR, so 3-band windows are flipped. A model
    trained through ``LoadRaster`` saw the file's order: nothing is flipped.
    """
    pre = model.data_preprocessor
    flip = flips_bands(model, bands)
    normalize = getattr(pre, '_enable_normalize', False)
    check_bands(model, bands)

    def transform(x: Tensor) -> Tensor:
        if flip:
            x = x[:, [2, 1, 0]]
        if normalize:
            x = (x - pre.mean.to(x.device)[None]) / pre.std.to(x.device)[None]
        return x
    return transform


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def batch_for(model, options: PredictOptions, bands: int, window: tuple[int, int], *,
              slide: bool, probe: bool) -> int:
    """Windows (and TTA views) per forward pass: ``options.window_batch``, else 1 for a whole
    image (nothing to batch), else probed on this machine (``probe=False``: many processes,
    which must batch alike, read the cache only and fall back to 4)."""
    if options.window_batch:
        return options.window_batch
    if not slide:
        return 1
    device = model_device(model)
    model.eval()
    return images_per_call(model, shape=(bands, *window), device=device,
                           precision=options.precision, channels_last=device.type == 'cpu',
                           fallback=4, probe=probe, log=logger.info)


@dataclass(frozen=True)
class WindowPredictor:
    """``model`` for one image of ``bands`` bands, as the engine calls it: ``predictor``
    ((B, C, h, w) → (B, channels, h, w), test-time augmented when asked), ``channels`` (K,
    plus one for a TTA uncertainty measure) and ``preprocess`` (normalisation and band
    order on the windows)."""
    predictor: Callable[[Tensor], Tensor]
    channels: int
    preprocess: Callable[[Tensor], Tensor]
    device: torch.device

    @classmethod
    def build(cls, model, options: PredictOptions, bands: int, batch_size: int
              ) -> 'WindowPredictor':
        device = model_device(model)
        model.eval()
        predictor, channels = composed_predictor(
            model, transforms=options.tta, scales=options.tta_scales, merge=options.tta_merge,
            uncertainty=options.uncertainty, max_batch=batch_size,
            channels_last=device.type == 'cpu')
        return cls(predictor, channels, input_transform(model, bands), device)
