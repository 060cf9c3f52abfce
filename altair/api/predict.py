"""Predict label maps for images of any size with a trained checkpoint (`tools/predict.py`)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from altair.api.config import load_config
from altair.api.test import CheckpointNotFoundError


def load_model(config, checkpoint: str | os.PathLike, *, device: str | None = None):
    """Build the config's model and load ``checkpoint`` (weights-only, see engine.checkpoint)."""
    from mmseg.apis import init_model

    import altair.engine  # noqa: F401  (safe checkpoint globals)
    import altair.models  # noqa: F401
    if not os.path.isfile(checkpoint):
        raise CheckpointNotFoundError(f"checkpoint '{checkpoint}' does not exist")
    cfg = load_config(config)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return init_model(cfg, str(checkpoint), device=device)


def input_transform(model, bands: int) -> Callable[[Tensor], Tensor]:
    """What the model's data preprocessor does to a loaded image, for (B, bands, h, w) windows
    whose bands are in file order (RGB for 3-band images).

    mmseg trains on OpenCV-loaded (BGR) images: with ``bgr_to_rgb=True`` the model sees RGB —
    our order already; without it the model sees BGR, so 3-band windows are flipped.
    """
    pre = model.data_preprocessor
    flip = bands == 3 and not getattr(pre, 'channel_conversion', False)
    normalize = getattr(pre, '_enable_normalize', False)
    if normalize and pre.mean.shape[0] != bands:
        raise ValueError(f'the model normalises {pre.mean.shape[0]} bands but the image has '
                         f'{bands}')

    def transform(x: Tensor) -> Tensor:
        if flip:
            x = x[:, [2, 1, 0]]
        if normalize:
            x = (x - pre.mean.to(x.device)[None]) / pre.std.to(x.device)[None]
        return x
    return transform


def predict_file(model, image: str | os.PathLike, out_dir: str | os.PathLike, *,
                 window: tuple[int, int] = (512, 512), overlap: float | None = 0.25,
                 stride: tuple[int, int] | None = None, blend: str = 'gaussian',
                 batch_size: int = 4, probs: bool = False, probs_dtype: str = 'uint8',
                 precision: str = 'fp32', tta: Sequence[str] | None = None,
                 tta_scales: Sequence[float] = (1.0,), tta_merge: str = 'soft_vote',
                 preview: bool = True, palette: list | None = None,
                 progress: bool = True) -> dict[str, Path]:
    """Predict one image window by window, streaming labels to ``<out_dir>/<stem>_labels.tif``.

    Also ``<stem>_probs.tif`` with ``probs`` (``probs_dtype`` ``'uint8'``: probability × 255,
    or ``'float32'``; GDAL 3.10 under rasterio 1.4 has no float16) and a colour
    ``<stem>_preview.png``. The source CRS and transform are kept; ``palette`` defaults to the
    model's ``dataset_meta``. ``tta`` (transform names, e.g. ``['d4']``), ``tta_scales`` and
    ``tta_merge`` apply test-time augmentation to every batch of windows
    (``altair.inference.tta``). Returns the written paths by kind.
    """
    from mmengine.utils import ProgressBar

    from altair.inference.grid import resolve_window, window_grid
    from altair.inference.sliding import sliding_window_inference
    from altair.inference.sources import open_image, raster_env
    from altair.inference.tta import tta_predictor
    from altair.inference.writers import PredictionWriter
    from altair.models.segmentor import window_predictor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(image).stem
    device = next(model.parameters()).device
    num_classes = model.out_channels
    if palette is None:
        palette = (getattr(model, 'dataset_meta', None) or {}).get('palette')
    model.eval()

    predictor = window_predictor(model)
    if tta is not None:
        predictor = tta_predictor(predictor, transforms=tta, scales=tta_scales, merge=tta_merge,
                                  max_batch=max(batch_size, 1),
                                  channels_last=device.type == 'cpu')

    with raster_env(), open_image(image) as src:
        bands, height, width = src.shape
        if overlap is not None and stride is not None:
            overlap = None  # an explicit stride wins over the default overlap
        win, step = resolve_window(window, overlap=overlap, stride=stride)
        total = len(window_grid(height, width, win, step))
        bar = ProgressBar(total) if progress else None
        with PredictionWriter(
                out / f'{stem}_labels.tif', height=height, width=width,
                num_classes=num_classes, transform=src.transform, crs=src.crs,
                probs_path=out / f'{stem}_probs.tif' if probs else None, probs_dtype=probs_dtype,
                preview_path=out / f'{stem}_preview.png' if preview else None,
                palette=palette) as writer:
            sliding_window_inference(
                src, predictor, window=win, stride=step, num_classes=num_classes,
                batch_size=batch_size, blend=blend, precision=precision, device=device,
                accumulate_device='cpu', channels_last=device.type == 'cpu',
                preprocess=input_transform(model, bands), sink=writer,
                progress=bar.update if bar else None)
            written = writer.close()
        if bar:
            print()
    return written


def predict(config, checkpoint, images: str | os.PathLike, out_dir: str | os.PathLike, *,
            device: str | None = None, **kwargs) -> list[dict[str, Path]]:
    """:func:`predict_file` for an image or every image in a folder."""
    from altair.inference.sources import list_images

    model = load_model(config, checkpoint, device=device)
    return [predict_file(model, p, out_dir, **kwargs) for p in list_images(images)]
