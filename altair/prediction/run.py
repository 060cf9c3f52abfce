"""Many images with one loaded model: the per-image loop of ``alt.predict`` in one process
or as one rank of many (images shared out, or one image split into row blocks), and a
mosaic of adjacent rasters read as one image."""
from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Iterator

from torch import Tensor

from altair.models.card import card_of
from altair.prediction.cases import VolumeCase
from altair.prediction.dist import predict_blocks
from altair.prediction.images import open_input
from altair.prediction.model import batch_for
from altair.prediction.options import PredictOptionError, PredictOptions
from altair.prediction.pipeline import fit_window, plan_image, predict_image
from altair.prediction.result import Prediction
from altair.prediction.volumes import predict_case
from altair.raster.mosaic import write_mosaic_vrt
from altair.raster.sources import raster_env

logger = logging.getLogger('altair')


def check_split(split: bool, options: PredictOptions) -> None:
    """What one image split across processes cannot do (several images can)."""
    if split and options.resume:
        raise PredictOptionError('resume continues a one-process prediction; one image split '
                                 'across processes starts again')
    if split and 'polygons' in options.save:
        raise PredictOptionError("save 'polygons' of one image needs one process (several "
                                 'images are shared out with their polygons)')


@contextlib.contextmanager
def mosaic_inputs(inputs: list, name: str | None) -> Iterator[list]:
    """``inputs`` as they are, or with ``name`` one input: a VRT over their files (in a
    temporary folder, removed on exit)."""
    if name is None:
        yield inputs
        return
    if any(isinstance(item, Tensor) for _, item in inputs):
        raise PredictOptionError('mosaic combines raster files, not arrays')
    with tempfile.TemporaryDirectory(prefix='altair_mosaic_') as tmp:
        yield [(name, write_mosaic_vrt([item for _, item in inputs], Path(tmp) / f'{name}.vrt'))]


def predict_images(net, inputs: list, options: PredictOptions, *, out: Path, split: bool = False,
                   rank: int = 0, world: int = 1, group=None) -> list[Prediction]:
    """Predict every (stem, path or tensor) of ``inputs`` with the loaded ``net`` into
    ``out``: whole where an image fits the training crop (``sliding_window='auto'``), else by
    windows. With ``split`` the ranks of ``group`` share each image by row blocks
    (``altair.prediction.dist``); rank 0 alone predicts one that runs whole."""
    crop = card_of(net).train_crop
    window = options.window_size if options.window_size is not None else (crop or (512, 512))
    window = (window, window) if isinstance(window, int) else tuple(window)
    results = []
    with raster_env():
        for stem, item in inputs:
            if isinstance(item, VolumeCase):
                results.append(predict_case(net, item, options, out=out,
                                            progress=options.progress and rank == 0))
                continue
            with open_input(net, stem, item, options.nodata) as src:
                _, h, w = src.shape
                slide = options.sliding_window if options.sliding_window != 'auto' else (
                    h > (crop or window)[0] or w > (crop or window)[1])
                fitted, _ = fit_window(window, options.stride, h, w)
                batch = batch_for(net, options, src.shape[0], fitted, slide=slide,
                                  probe=world == 1)
                job = plan_image(src, stem, options, out=out, slide=slide,
                                 window=window, batch_size=batch)
                if split and slide:
                    results.append(predict_blocks(net, src, job, options, rank=rank,
                                                  world=world, group=group))
                elif not split or rank == 0:  # a whole-image prediction is one rank's work
                    results.append(predict_image(net, src, job, options,
                                                 progress=options.progress and rank == 0))
    return results
