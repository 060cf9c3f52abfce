"""The images a prediction is given: files, folders, globs, arrays, one output name each,
and each opened as a window source read as the model was trained."""
from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from altair.models.card import card_of
from altair.prediction.model import check_bands, nodata_fill
from altair.prediction.options import PredictOptionError
from altair.prediction.pipeline import image_name
from altair.raster.errors import ImageNotFoundError
from altair.raster.formats import PICTURE_SUFFIXES
from altair.raster.nodata import check_nodata
from altair.raster.sources import TensorSource, list_images, open_image, output_stems


def image_items(images) -> list:
    """The image paths and arrays ``images`` names, in order."""
    if isinstance(images, np.ndarray):
        images = [images]
    if isinstance(images, (list, tuple)):
        out = []
        for item in images:
            out += [item] if isinstance(item, np.ndarray) else list_images(item)
        return out
    text = str(images)
    if not Path(text).exists() and any(c in text for c in '*?['):
        found = sorted(Path(p) for p in glob.glob(text, recursive=True)
                       if Path(p).suffix.lower() in PICTURE_SUFFIXES)
        if not found:
            raise ImageNotFoundError(f"no images match '{text}'")
        return found
    return list_images(text)


def array_tensor(array: np.ndarray) -> Tensor:
    """(H, W) or (H, W, C) → (C, H, W)."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise PredictOptionError(f'an image array must be (H, W) or (H, W, C), got shape '
                                 f'{array.shape}')
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def image_inputs(images) -> list[tuple[str, Path | Tensor]]:
    """(output stem, path or (C, H, W) tensor) for every image ``images`` names; two images
    with one stem (in two sub-folders) get distinct stems (``sources.output_stems``)."""
    items = image_items(images)
    stems = iter(output_stems([item for item in items if isinstance(item, Path)]))
    arrays = len(items) > 1
    return [(next(stems), item) if isinstance(item, Path) else
            (f'array_{i}' if arrays else 'array', array_tensor(item))
            for i, item in enumerate(items)]


def open_input(model, stem: str, item: Path | Tensor, nodata: float | None):
    """``item`` as a window source for ``model``: the bands and nodata it was trained with
    (``nodata`` overrides), nodata read as its mean; the band count checked."""
    trained = card_of(model).raster
    if isinstance(item, Tensor):
        value = nodata if nodata is not None else trained.get('nodata')
        src = TensorSource(item, nodata=check_nodata(value, item.numpy().dtype.name, stem))
    else:
        src = open_image(item, bands=trained.get('bands'), nodata=nodata,
                         default_nodata=trained.get('nodata'))
    try:
        check_bands(model, src.shape[0], image_name(src, stem))
    except BaseException:
        src.close()
        raise
    src.fill = nodata_fill(model, src.shape[0])
    return src
