"""Predict label maps for images of any size: ``alt.predict`` and ``altair predict``.

Whole-image inference for images no larger than the model's training crop, the streaming
sliding-window engine (``altair.inference.sliding``) beyond it; test-time augmentation
(``altair.inference.tta``) combines with both.
"""
from __future__ import annotations

import contextlib
import glob
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from altair.api.load import load_model  # noqa: F401  (the front door; was defined here)
from altair.fileio import ensure_writable_dir
from altair.errors import AltairError

logger = logging.getLogger('altair')

SAVE_KINDS = ('labels', 'overlay', 'probs', 'preview', 'polygons')
POLYGON_FORMATS = ('gpkg', 'geojson')
FORMATS = ('cog', 'gtiff')
# Outputs up to this many pixels are also returned as arrays; larger ones only as files.
IN_MEMORY_PIXELS = 1 << 26  # 67 Mpx: 64 MB of uint8 labels


class PredictOptionError(AltairError, ValueError):
    """A bad ``model``, ``images``, ``save``, ``sliding_window`` or ``device`` argument."""


class BandCountError(AltairError, ValueError):
    """An image whose number of bands is not the one the model was trained on."""


@dataclass
class Prediction:
    """The result for one image.

    Attributes:
        source: the image file (None for an array).
        labels: (H, W) class indices as a NumPy array, or the path of the label GeoTIFF when
            the image has more than ``IN_MEMORY_PIXELS`` pixels.
        probs: (K, H, W) float32 probabilities when asked for (``return_probs``) and in memory.
        uncertainty: (H, W) float32 uncertainty when asked for and in memory (NaN = nodata).
        written: output files by kind (``labels``, ``overlay``, ``probs``, ``uncertainty``,
            ``preview``).
        sliding_window: whether the sliding-window engine ran.
        windows, skipped_windows: windows in the grid, and those skipped as nodata only.
    """
    source: Path | None
    labels: np.ndarray | Path
    probs: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    written: dict[str, Path] = field(default_factory=dict)
    sliding_window: bool = False
    windows: int = 0
    skipped_windows: int = 0


def nodata_fill(model, bands: int) -> list[float]:
    """What nodata pixels are read as: the model's normalisation mean (zero once normalised,
    as ``LoadRaster(fill=mean)`` trains), in file band order; 0 without normalisation."""
    pre = model.data_preprocessor
    if not getattr(pre, '_enable_normalize', False):
        return [0.0] * bands
    mean = [float(v) for v in pre.mean.flatten()]
    return mean[::-1] if _flips(model, bands) else mean


def _flips(model, bands: int) -> bool:
    """Whether 3-band windows (file order, RGB) are reversed for ``model`` (see
    :func:`input_transform`)."""
    pre = model.data_preprocessor
    file_order = (getattr(model, 'altair_raster', None) or {}).get('file_order', False)
    return bands == 3 and not file_order and not getattr(pre, 'channel_conversion', False)


def input_transform(model, bands: int) -> Callable[[Tensor], Tensor]:
    """What the model's data preprocessor does to a loaded image, for (B, bands, h, w) windows
    whose bands are in file order (RGB for 3-band images).

    mmseg trains on OpenCV-loaded (BGR) images: with ``bgr_to_rgb=True`` the model sees RGB —
    our order already; without it the model sees BGR, so 3-band windows are flipped. A model
    trained through ``LoadRaster`` saw the file's order: nothing is flipped.
    """
    pre = model.data_preprocessor
    flip = _flips(model, bands)
    normalize = getattr(pre, '_enable_normalize', False)
    check_bands(model, bands)

    def transform(x: Tensor) -> Tensor:
        if flip:
            x = x[:, [2, 1, 0]]
        if normalize:
            x = (x - pre.mean.to(x.device)[None]) / pre.std.to(x.device)[None]
        return x
    return transform


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


def _image_name(src, stem: str) -> str:
    path = getattr(src, 'path', None)
    return f"image '{path}'" if path is not None else f"image array '{stem}'"


def fit_window(window: tuple[int, int], stride: tuple[int, int] | None, height: int,
               width: int) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """(window, stride) no larger than a ``height`` x ``width`` image: a window beyond the
    image would only be padding (allocated for every window in the batch), and the grid has
    one window along a side the window covers whole."""
    win = (min(window[0], height), min(window[1], width))
    if stride is not None:
        stride = (min(stride[0], win[0]), min(stride[1], win[1]))
    return win, stride


def predict_source(model, src, out_dir: str | os.PathLike | None, stem: str, *,
                   sliding_window: bool = True, window: tuple[int, int] = (512, 512),
                   overlap: float | None = 0.25, stride: tuple[int, int] | None = None,
                   blend: str = 'gaussian', batch_size: int = 4,
                   save: Sequence[str] = ('labels',), probs_dtype: str = 'uint8',
                   return_probs: bool = False, precision: str = 'auto',
                   tta: Sequence[str] | None = None, tta_scales: Sequence[float] = (1.0,),
                   tta_merge: str = 'soft_vote', palette: list | None = None,
                   uncertainty: str | None = None, format: str | None = None,
                   polygons_format: str = 'gpkg', min_area: float = 0.0,
                   simplify: float = 0.0, resume: bool = False,
                   progress: bool = True) -> Prediction:
    """Predict one opened image ``src`` (a raster or tensor source) with ``model``.

    The logits are streamed band by band into the requested files under ``out_dir``
    (``<stem>_labels.tif`` keeping the source CRS and transform, ``<stem>_probs.tif``,
    ``<stem>_uncertainty.tif``, ``<stem>_preview.png``, ``<stem>_overlay.png``; all written
    atomically; ``format`` ``'cog'`` or ``'gtiff'``, default COG for georeferenced sources)
    and, for images up to ``IN_MEMORY_PIXELS``, into arrays. ``sliding_window=False`` runs
    the whole image as one window. ``tta`` (transform names, e.g. ``['d4']``),
    ``tta_scales`` and ``tta_merge`` apply test-time augmentation to every batch of windows.
    ``uncertainty`` names a measure of ``altair.inference.uncertainty.MEASURES``. A source
    with nodata (``src.masked``) skips windows without data and writes nodata there.
    ``save`` with ``'polygons'`` writes ``<stem>_polygons.gpkg`` (or ``.geojson``), one
    feature per connected region (``altair.inference.polygons``; ``min_area``, ``simplify``).
    File outputs keep a progress journal (``altair.inference.journal``): a run that stops
    leaves its rows and ``resume=True`` with the same arguments continues it, writing the
    same bytes an uninterrupted run would; with no journal there, ``resume=True`` starts
    fresh (a requeued job runs the same command every time). A ``window`` larger than the
    image is cut to the image. While it writes, the outputs are locked
    (``altair.inference.lock``): another prediction into them fails with
    ``OutputLockedError`` naming this process.
    """
    from mmengine.utils import ProgressBar

    from altair.inference.grid import resolve_window, window_grid
    from altair.inference.journal import (journal_path, load_journal, remove_journal,
                                          save_journal)
    from altair.inference.lock import OutputLock, lock_path
    from altair.inference.sliding import sliding_window_inference
    from altair.inference.writers import LabelCollector, PredictionWriter, tee

    device = next(model.parameters()).device
    num_classes = model.out_channels
    fmt = output_format(src, format)
    if fmt not in FORMATS:
        raise PredictOptionError(f"format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if palette is None:
        palette = (getattr(model, 'dataset_meta', None) or {}).get('palette')
    predictor, channels = window_model(model, tta=tta, tta_scales=tta_scales,
                                       tta_merge=tta_merge, uncertainty=uncertainty,
                                       max_batch=batch_size)

    bands, height, width = src.shape
    check_bands(model, bands, _image_name(src, stem))
    if sliding_window:
        if overlap is not None and stride is not None:
            overlap = None  # an explicit stride wins over the default overlap
        window = (window, window) if isinstance(window, int) else tuple(window)
        fitted, stride = fit_window(window, stride, height, width)
        if fitted != window:
            logger.info(f'{stem}: window {window[0]}x{window[1]} is larger than the '
                        f'{height}x{width} image; using {fitted[0]}x{fitted[1]}')
        win, step = resolve_window(fitted, overlap=overlap, stride=stride)
    else:  # the whole image is one window; constant weights make it exact
        if height * width > IN_MEMORY_PIXELS:
            raise PredictOptionError(f'{stem}: {height}x{width} is too large to predict whole; '
                                     "use sliding_window=True or 'auto'")
        win = step = (height, width)
        overlap, blend = None, 'constant'
    in_memory = height * width <= IN_MEMORY_PIXELS
    save = set(save)
    if not in_memory and 'labels' not in save:
        logger.warning(f'{stem}: {height}x{width} is too large to return as an array; '
                       'writing the label GeoTIFF')
        save.add('labels')
    out = Path(out_dir) if out_dir is not None else Path('predictions')
    files = bool(save & {'labels', 'probs', 'preview', 'polygons'} or uncertainty)
    if save or files:
        ensure_writable_dir(out)
    # one writer per output: a second prediction into these outputs is refused, not mixed in
    lock = OutputLock(lock_path(out, stem), f"'{stem}_*'") if save or files else \
        contextlib.nullcontext()
    with lock:
        journal = journal_path(out, stem)
        args = dict(image=_identity(src),
                    model=getattr(model, 'altair_source', type(model).__name__), window=win,
                    stride=step, blend=blend, batch_size=batch_size,
                    precision=precision, device=device.type, tta=tta, tta_scales=tta_scales,
                    tta_merge=tta_merge, save=sorted(save), probs_dtype=probs_dtype,
                    uncertainty=uncertainty, format=fmt, polygons_format=polygons_format,
                    min_area=min_area, simplify=simplify, nodata=getattr(src, 'nodata', None),
                    bands=getattr(src, 'bands', None))
        state = None
        # a requeued job (Slurm, a cron retry) runs the same command every time: with nothing
        # to resume, --resume starts fresh
        if resume and not files:
            logger.info(f'{stem}: --resume: nothing to resume (only labels, probs, preview, '
                        'polygons and uncertainty are streamed and journaled); starting fresh')
        elif resume and not journal.is_file():
            logger.info(f"{stem}: --resume: nothing to resume (no journal '{journal.name}' "
                        f"in '{out}'); starting fresh")
        elif resume:
            state = load_journal(journal, args)
            logger.info(f"{stem}: resuming at row {state['rows_done']} of {height}")
        elif journal.is_file():
            logger.info(f'{stem}: an interrupted prediction was here; starting again (--resume '
                        'continues one)')
            remove_journal(journal)
        total = len(window_grid(height, width, win, step)) - (state['window'] if state else 0)
        bar = ProgressBar(total) if progress and total > 1 else None
        collector = LabelCollector(
            height=height, width=width, num_classes=num_classes, probs=return_probs,
            uncertainty=uncertainty) if in_memory else None
        polygons = writer = None
        masked = bool(getattr(src, 'masked', False))
        try:
            if 'polygons' in save:
                from altair.inference.polygons import PolygonWriter
                meta = getattr(model, 'dataset_meta', None) or {}
                polygons = PolygonWriter(
                    out / f'{stem}_polygons.{polygons_format}', width=width, height=height,
                    num_classes=num_classes, transform=getattr(src, 'transform', None),
                    crs=getattr(src, 'crs', None), class_names=meta.get('classes'),
                    min_area=min_area, simplify=simplify,
                    resume_state=state['polygons'] if state else None)
            if files:  # labels always (polygons-only runs too): a resume reads them back
                writer = PredictionWriter(
                    out / f'{stem}_labels.tif', height=height, width=width, num_classes=num_classes,
                    transform=getattr(src, 'transform', None), crs=getattr(src, 'crs', None),
                    probs_path=out / f'{stem}_probs.tif' if 'probs' in save else None,
                    probs_dtype=probs_dtype,
                    preview_path=out / f'{stem}_preview.png' if 'preview' in save else None,
                    palette=palette, masked=masked, format=fmt, uncertainty=uncertainty,
                    uncertainty_path=out / f'{stem}_uncertainty.tif' if uncertainty else None,
                    resume_rows=state['rows_done'] if state else None)
        except BaseException:
            if polygons is not None:
                polygons.abort(keep=state is not None)
            raise
        sinks = [s for s in (writer, collector, polygons) if s is not None]
        stats: dict = {}
        journaled = state is not None

        def checkpoint(rows_done: int, window_index: int, band: dict) -> None:
            nonlocal journaled
            if writer is not None:
                writer.sync()
            save_journal(journal, args, rows_done=rows_done, window=window_index, band=band,
                         polygons=polygons.sync() if polygons is not None else None)
            journaled = True
        try:
            sliding_window_inference(
                src, predictor, window=win, stride=step, num_classes=channels,
                batch_size=batch_size, blend=blend, precision=precision, device=device,
                accumulate_device='cpu', channels_last=device.type == 'cpu',
                preprocess=input_transform(model, bands), sink=tee(*sinks),
                progress=bar.update if bar else None,
                valid=src.read_valid if masked else None, stats=stats,
                resume=(state['rows_done'], state['window'], state['band']) if state else None,
                checkpoint=checkpoint if files else None)
            written = writer.close() if writer is not None else {}
            if polygons is not None:
                written['polygons'] = polygons.close()
        except BaseException as exc:
            for sink in (writer, polygons):
                if sink is not None:
                    sink.abort(keep=journaled)
            if journaled:
                logger.warning(f'{stem}: stopped ({type(exc).__name__}); the rows done are kept: '
                               'the same command with --resume continues')
            raise
        remove_journal(journal)
        if state is not None and collector is not None:  # rows before the resume: from the files
            collector = _read_back(written, collector)
        if bar:
            print()
        if stats.get('skipped'):
            logger.info(f"{stem}: {stats['skipped']} of {stats['windows']} windows hold only "
                        'nodata: skipped')
        if 'labels' not in save and 'labels' in written:  # only written for probs / preview
            written.pop('labels').unlink()
        if 'overlay' in save:
            written['overlay'] = write_overlay(
                src, collector.labels if collector else written['labels'],
                out / f'{stem}_overlay.png', palette=palette, num_classes=num_classes)
        if uncertainty is not None and save & {'overlay', 'preview'}:
            written['uncertainty_png'] = write_scalar_png(
                written['uncertainty'], out / f'{stem}_uncertainty.png', height=height, width=width)
        return Prediction(source=getattr(src, 'path', None),
                          labels=collector.labels if collector else written['labels'],
                          probs=collector.probs if collector else None,
                          uncertainty=collector.uncertainty if collector else None,
                          written=written, sliding_window=bool(sliding_window),
                          windows=stats.get('windows', 0), skipped_windows=stats.get('skipped', 0))


def output_format(src, format: str | None) -> str:
    """``format``, else COG for a georeferenced source and plain GeoTIFF otherwise."""
    return format or ('cog' if getattr(src, 'crs', None) is not None else 'gtiff')


def window_model(model, *, tta: Sequence[str] | None = None,
                 tta_scales: Sequence[float] = (1.0,), tta_merge: str = 'soft_vote',
                 uncertainty: str | None = None, max_batch: int | None = None
                 ) -> tuple[Callable[[Tensor], Tensor], int]:
    """(predictor, channels): ``model`` (put in eval mode) as the sliding-window engine's
    (B, C, h, w) → (B, channels, h, w) callable, through test-time augmentation when ``tta``
    names transforms (``max_batch`` images per forward pass); ``channels`` is K, plus one
    for a TTA uncertainty measure."""
    from altair.inference.tta import tta_predictor
    from altair.inference.uncertainty import TTA_MEASURES, check_measure
    from altair.models.segmentor import window_predictor
    if uncertainty is not None:
        check_measure(uncertainty, tta=tta is not None)
    device = next(model.parameters()).device
    model.eval()
    predictor = window_predictor(model)
    if tta is not None:
        predictor = tta_predictor(
            predictor, transforms=tta, scales=tta_scales, merge=tta_merge,
            max_batch=max_batch, channels_last=device.type == 'cpu',
            uncertainty=uncertainty if uncertainty in TTA_MEASURES else None)
    return predictor, model.out_channels + (uncertainty in TTA_MEASURES)


def images_per_call(model, bands: int, window: tuple[int, int], precision: str, *,
                    probe: bool = True) -> int:
    """Windows (and TTA views) per forward pass when no batch size is given: the fastest per
    image on this machine, measured once per model architecture, device, window and
    precision and cached (``altair.inference.autotune``). ``probe=False`` (many processes:
    every rank must batch alike) reads the cache only and falls back to 4."""
    from altair.inference.autotune import tuned_batch
    from altair.models.segmentor import window_predictor
    device = next(model.parameters()).device
    model.eval()
    return tuned_batch(window_predictor(model), model, shape=(bands, *window), device=device,
                       precision=precision, channels_last=device.type == 'cpu', fallback=4,
                       probe=probe, log=logger.info)


def _identity(src) -> dict | str:
    """The source image as the journal records it (an in-memory array by its shape)."""
    from altair.inference.journal import file_identity
    path = getattr(src, 'path', None)
    return file_identity(path) if path is not None else f'array {tuple(src.shape)}'


def _read_back(written: dict, collector):
    """``collector``'s arrays filled from the files a resumed run completed (its own rows
    start at the resume point); float32 probabilities only, else ``probs`` is None."""
    import rasterio
    with rasterio.open(written['labels']) as ds:
        collector.labels[:] = ds.read(1)
    if collector.uncertainty is not None:
        with rasterio.open(written['uncertainty']) as ds:
            collector.uncertainty[:] = ds.read(1)
    if collector.probs is not None:
        probs = written.get('probs')
        with contextlib.ExitStack() as stack:
            ds = stack.enter_context(rasterio.open(probs)) if probs else None
            if ds is not None and ds.dtypes[0] == 'float32':
                collector.probs[:] = ds.read()
            else:
                logger.warning('a resumed run returns probabilities only from a float32 '
                               'probability file')
                collector.probs = None
    return collector


def predict_file(model, image: str | os.PathLike, out_dir: str | os.PathLike, *,
                 probs: bool = False, preview: bool = True, **kwargs) -> dict[str, Path]:
    """Sliding-window prediction of one image file into ``out_dir`` (``<stem>_labels.tif``,
    optionally ``_probs.tif`` and ``_preview.png``); returns the written paths by kind.
    ``kwargs`` as in :func:`predict_source`."""
    from altair.inference.sources import open_image, raster_env
    save = ['labels'] + ['probs'] * probs + ['preview'] * preview
    with raster_env(), open_image(image) as src:
        return predict_source(model, src, out_dir, Path(image).stem, save=save,
                              **kwargs).written


def write_overlay(src, labels: np.ndarray | Path, path: Path, *, palette, num_classes: int,
                  max_side: int = 4096, alpha: float = 0.5) -> Path:
    """A PNG of the labels coloured over the image, downsampled so the long side is at most
    ``max_side`` (read by decimation: a huge image is never loaded whole)."""
    from altair.inference.raster import write_png
    from altair.inference.writers import _default_palette
    from altair.visualization.overlay import blend, colorize, to_display_rgb

    _, height, width = src.shape
    step = max(1, -(-max(height, width) // max_side))
    if isinstance(labels, np.ndarray):
        small = labels[::step, ::step]
    else:
        import rasterio
        from rasterio.enums import Resampling
        with rasterio.open(labels) as ds:
            small = ds.read(1, out_shape=(-(-height // step), -(-width // step)),
                            resampling=Resampling.nearest)
    rgb = to_display_rgb(np.asarray(src.thumbnail(step)))
    color = colorize(small, palette or _default_palette(num_classes))
    return write_png(path, blend(rgb, color, alpha))


def write_scalar_png(raster: Path, path: Path, *, height: int, width: int,
                     max_side: int = 4096) -> Path:
    """A PNG of band 1 of ``raster`` (e.g. the uncertainty) through the magma colour map,
    nodata black, long side at most ``max_side`` (read by decimation)."""
    import rasterio
    from rasterio.enums import Resampling

    from altair.inference.raster import write_png
    from altair.visualization.overlay import colorize_scalar
    step = max(1, -(-max(height, width) // max_side))
    with rasterio.open(raster) as ds:
        small = ds.read(1, out_shape=(-(-height // step), -(-width // step)),
                        resampling=Resampling.nearest)
    return write_png(path, colorize_scalar(small))


BACKENDS = ('auto', 'torch', 'onnxruntime')


def check_backend(model, backend: str) -> None:
    """``backend`` ``'onnxruntime'`` needs an ``.onnx`` model, ``'torch'`` refuses one
    (checked before anything loads).

    Raises:
        PredictOptionError: naming the model and what to do.
    """
    from altair.models.portable import OnnxSegmentor
    onnx = isinstance(model, OnnxSegmentor) or (
        isinstance(model, (str, os.PathLike)) and str(model).lower().endswith('.onnx'))
    if backend == 'onnxruntime' and not onnx:
        raise PredictOptionError(f"backend 'onnxruntime' runs an exported .onnx model, got "
                                 f'{str(model)!r}: altair export RUN --format onnx first')
    if backend == 'torch' and onnx:
        raise PredictOptionError(f"'{model}' is an ONNX model: use backend 'onnxruntime'")


def _resolve_model(model, device: str, root, backend: str = 'auto'):
    """(loaded model, default output folder) for a run id / Run / (config, ckpt) / module /
    ``.pth`` / ``.safetensors`` / ``.onnx``, after :func:`check_backend`."""
    from altair.api.runs import is_run_reference, resolve_model_source
    check_backend(model, backend)
    suffix = Path(str(model)).suffix.lower() if isinstance(model, (str, os.PathLike)) else ''
    if isinstance(model, torch.nn.Module):
        net, out = model, Path('predictions')
    elif suffix in ('.onnx', '.safetensors', '.pth'):
        net, out = load_model(model, device='cpu' if suffix == '.onnx' else device), \
            Path('predictions')
    elif (isinstance(model, (tuple, list)) and len(model) == 2) or is_run_reference(model):
        config, checkpoint, run = resolve_model_source(
            *(model if isinstance(model, (tuple, list)) else (model,)), root=root)
        net, out = load_model(config, checkpoint, device=device), \
            run.dir / 'predictions' if run is not None else Path('predictions')
    else:
        raise PredictOptionError(f'model must be a run id, a Run, (config, checkpoint), a .pth, '
                                 f'.safetensors or .onnx file, or a segmentor, got {model!r}')
    return net, out


def _check_split(split: bool, *, resume: bool, save) -> None:
    """What one image split across processes cannot do (several images can)."""
    if split and resume:
        raise PredictOptionError('resume continues a one-process prediction; one image split '
                                 'across processes starts again')
    if split and 'polygons' in save:
        raise PredictOptionError("save 'polygons' of one image needs one process (several "
                                 'images are shared out with their polygons)')


def _spawn(n: int, model, inputs: list, *, root, device: str, options: dict
           ) -> list[Prediction]:
    """``predict`` of ``inputs`` in ``n`` local worker processes (see ``predict_dist``)."""
    import tempfile

    from altair.api.predict_dist import spawn
    from altair.api.runs import Run
    if isinstance(model, Run):
        model, root = model.id, model.dir.parent
    if isinstance(model, (tuple, list)) and len(model) == 2:
        model = [str(model[0]), str(model[1])]
    elif not isinstance(model, str):
        raise PredictOptionError('several processes load the model themselves: give a run id '
                                 'or (config, checkpoint), not a segmentor')
    if any(isinstance(item, Tensor) for _, item in inputs):
        raise PredictOptionError('several processes read images from files, not arrays')
    options = dict(options, root=None if root is None else str(root), device=device)
    images = [str(item) for _, item in inputs]
    spec = dict(model=model, images=images, options=options)
    run_model = tuple(model) if isinstance(model, list) else model
    with tempfile.TemporaryDirectory(prefix='altair_predict_') as tmp:
        found = spawn(n, spec, Path(tmp), lambda: predict(run_model, images, **options))
    for p in found:  # one kind whichever rank predicted it: the label file
        p.labels, p.probs, p.uncertainty = p.written['labels'], None, None
    return found


def _image_inputs(images) -> list[tuple[str, object]]:
    """(output stem, path or (C, H, W) tensor) for every image ``images`` names; two images
    with one stem (in two sub-folders) get distinct stems (``sources.output_stems``)."""
    from altair.inference.sources import output_stems
    items = _image_items(images)
    paths = [item for item in items if isinstance(item, Path)]
    stems = iter(output_stems(paths))
    arrays = len(items) > 1
    return [(next(stems), item) if isinstance(item, Path) else
            (f'array_{i}' if arrays else 'array', _array_tensor(item))
            for i, item in enumerate(items)]


def _image_items(images) -> list:
    """The image paths and arrays ``images`` names, in order."""
    from altair.inference.sources import (IMAGE_SUFFIXES, RASTER_SUFFIXES, ImageNotFoundError,
                                          list_images)
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
                       if Path(p).suffix.lower() in RASTER_SUFFIXES + IMAGE_SUFFIXES)
        if not found:
            raise ImageNotFoundError(f"no images match '{text}'")
        return found
    return list_images(text)


def _array_tensor(array: np.ndarray) -> Tensor:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise PredictOptionError(f'an image array must be (H, W) or (H, W, C), got shape '
                                 f'{array.shape}')
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def predict(model, images, *, tta: bool = False, tta_transforms: Sequence[str] | None = None,
            tta_scales: Sequence[float] = (1.0,), tta_merge: str = 'soft_vote',
            sliding_window: bool | str = 'auto', window_size: int | tuple[int, int] | None = None,
            overlap: float = 0.25, stride: tuple[int, int] | None = None,
            blend: str = 'gaussian', batch_size: int | None = None, device: str = 'auto',
            precision: str = 'auto', out_dir: str | os.PathLike | None = None,
            save: Sequence[str] = ('labels', 'overlay'), probs_dtype: str = 'uint8',
            return_probs: bool = False, root: str | os.PathLike | None = None,
            nodata: float | None = None, uncertainty: str | None = None,
            format: str | None = None, polygons_format: str = 'gpkg', min_area: float = 0.0,
            simplify: float = 0.0, mosaic: str | None = None, resume: bool = False,
            processes: int | None = None, gpus: int | None = None,
            progress: bool = True, backend: str = 'auto') -> list[Prediction]:
    """Predict every image with a trained model.

    Args:
        model: a run id (or unique prefix), a ``Run``, ``(config, checkpoint)``, a ``.pth``
            checkpoint, an exported ``.safetensors`` or ``.onnx`` file (``altair export``), or
            a segmentor (see ``alt.load_model``).
        images: a file, a folder (recursively), a glob, a list of these, or a NumPy array
            (H, W) / (H, W, C) with bands in RGB order.
        tta: test-time augmentation; ``tta_transforms`` (default ``['hflip']``; giving them
            turns TTA on), ``tta_scales`` and ``tta_merge`` as in ``altair.inference.tta``.
        sliding_window: ``'auto'`` slides windows over images larger than the model's training
            crop and runs smaller ones whole; ``True`` / ``False`` force either.
        window_size: (h, w) of the windows (default: the training crop, else 512).
        overlap: fraction shared by neighbouring windows, in [0, 1); ``stride`` instead.
        blend: ``'gaussian'``, ``'linear'`` or ``'constant'`` window weights.
        batch_size: windows (and TTA views) per forward pass; default: measured on this
            machine on first use and cached (``altair.inference.autotune``; a few forward
            passes, once per model architecture, device, window and precision). Many
            processes use the cached value, else 4.
        device: ``'auto'`` (CUDA when present), ``'cpu'``, ``'cuda:1'``, ...
        precision: ``'auto'`` (bf16 autocast where the CPU has AVX512-BF16 / AMX or the GPU
            bf16, else fp32; never fp16: ``altair.inference.precision``), ``'fp32'``,
            ``'bf16'`` or ``'fp16'``. On the demo model bf16 labels equal fp32's on 99.9 %
            of the val pixels (``benchmarks/precision_agreement.py``).
        out_dir: where files go (default ``<run>/predictions`` for a run, else
            ``./predictions``).
        save: any of ``labels`` (GeoTIFF keeping the source georeference), ``overlay``
            (labels coloured over the image, PNG), ``probs`` (GeoTIFF), ``preview`` (labels
            coloured, PNG), ``polygons`` (GeoPackage / GeoJSON); ``()`` writes nothing.
        probs_dtype: ``'uint8'`` (probability × 255) or ``'float32'`` for ``probs``.
        return_probs: also return (K, H, W) probabilities in memory.
        root: runs root for run ids.
        nodata: the input's nodata value (default: the file's, else its alpha or mask band,
            else the value the model was trained with). Windows holding only nodata are
            skipped; nodata pixels are read as the model's mean and written as nodata
            (labels 255, float scores NaN, uint8 probabilities masked).
        uncertainty: also write ``<stem>_uncertainty.tif`` (float32): ``'entropy'``,
            ``'margin'``, or with TTA ``'tta-variance'`` / ``'tta-agreement'`` (formulas in
            ``altair.inference.uncertainty``).
        format: ``'cog'`` (default for georeferenced images: Cloud-Optimized GeoTIFF with
            overviews) or ``'gtiff'`` (plain tiled GeoTIFF; the default otherwise).
        polygons_format, min_area, simplify: for ``save`` with ``'polygons'``: ``'gpkg'``
            (default) or ``'geojson'``; regions below ``min_area`` (map units²) dropped;
            outlines simplified with tolerance ``simplify`` (map units).
        resume: continue interrupted predictions from their journals (the same arguments
            are required); an image without a journal starts fresh, so a requeued job can
            run the same command every time.
        mosaic: predict all the images as one seamless scene named ``mosaic`` (outputs
            ``<mosaic>_labels.tif``, ...): adjacent rasters on one pixel grid, read through
            a VRT (``altair.inference.mosaic``).
        processes, gpus: predict in that many local processes (CPU processes over gloo, or
            one per GPU); a job started by torchrun / accelerate / Slurm splits itself the
            same way. Several images are shared out between the processes; one image is
            split into row blocks whose joined outputs equal a one-process run
            (``altair.api.predict_dist``). Labels are then always written and every process
            returns every result (another process's labels as the file); ``model`` must be
            a run or (config, checkpoint), ``images`` files. Under torchrun every rank must
            call ``predict`` (the ranks meet at barriers).
        backend: ``'auto'`` (by the model: onnxruntime for ``.onnx``, else torch),
            ``'torch'`` or ``'onnxruntime'`` (an ``.onnx`` model, on the CPU, fp32: the same
            windows, TTA and writers as torch).

    Returns:
        One :class:`Prediction` per image, in order.

    Raises:
        RunNotFoundError, NoCheckpointError, ImageNotFoundError, UnsupportedImageError,
        WindowArgumentError, TTAConfigError, PredictOptionError: naming the bad value.
    """
    from altair.inference.grid import resolve_window
    from altair.inference.sources import open_image, raster_env

    from altair.inference.uncertainty import check_measure

    if backend not in BACKENDS:
        raise PredictOptionError(f"unknown backend '{backend}'; choose one of "
                                 f"{', '.join(BACKENDS)}")
    check_backend(model, backend)
    bad = [s for s in save if s not in SAVE_KINDS]
    if bad:
        raise PredictOptionError(f"unknown save kind '{bad[0]}'; choose from "
                                 f"{', '.join(SAVE_KINDS)}")
    if format is not None and format not in FORMATS:
        raise PredictOptionError(f"format must be one of {', '.join(FORMATS)}, got '{format}'")
    for name, value in (('min_area', min_area), ('simplify', simplify)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise PredictOptionError(f'{name} must be a number >= 0, got {value!r}')
    if polygons_format not in POLYGON_FORMATS:
        raise PredictOptionError(f"polygons_format must be one of {', '.join(POLYGON_FORMATS)}, "
                                 f"got '{polygons_format}'")
    transforms = list(tta_transforms) if tta_transforms is not None else (
        ['hflip'] if tta else None)
    if uncertainty is not None:
        check_measure(uncertainty, tta=transforms is not None)
    if sliding_window not in (True, False, 'auto'):
        raise PredictOptionError(f"sliding_window must be True, False or 'auto', got "
                                 f'{sliding_window!r}')
    # checked here even where an image turns out to be predicted whole (smaller than the
    # window) and the window options go unused: a bad value is refused on every image
    resolve_window(window_size if window_size is not None else (1 << 30, 1 << 30),
                   overlap=None if stride else overlap, stride=stride)
    if batch_size is not None and (isinstance(batch_size, bool) or
                                   not isinstance(batch_size, int) or batch_size < 1):
        raise PredictOptionError(f'batch_size must be an int >= 1, got {batch_size!r}')
    inputs = _image_inputs(images)  # bad paths fail before the model loads
    from altair.api import predict_dist
    workers = predict_dist.check_processes(processes, gpus)
    split = mosaic is not None or len(inputs) == 1  # one image: row blocks across processes
    if workers > 1:
        if predict_dist.detect_launcher() != 'none':
            raise PredictOptionError('processes / gpus start their own workers; a job '
                                     'started by torchrun or Slurm is split already')
        _check_split(split, resume=resume, save=save)
        return _spawn(workers, model, inputs, root=root, device='cpu' if processes else
                      device, options=dict(
                          tta=tta, tta_transforms=tta_transforms, tta_scales=list(tta_scales),
                          tta_merge=tta_merge, sliding_window=sliding_window,
                          window_size=window_size, overlap=overlap, stride=stride,
                          blend=blend, batch_size=batch_size, precision=precision,
                          out_dir=None if out_dir is None else str(out_dir), save=list(save),
                          probs_dtype=probs_dtype, nodata=nodata, uncertainty=uncertainty,
                          format=format, polygons_format=polygons_format, min_area=min_area,
                          simplify=simplify, mosaic=mosaic, resume=resume, progress=progress,
                          backend=backend))
    rank, world, local_rank, group = predict_dist.process_group()
    split = split and world > 1
    if world > 1:
        _check_split(split, resume=resume, save=save)
        if 'labels' not in save:
            save = [*save, 'labels']  # the other processes' results come back as files
        order = {str(item): i for i, (_, item) in enumerate(inputs)}
        if not split:
            from altair.inference.shard import shard
            inputs = shard(inputs, rank, world)
    vrt_dir = None
    if mosaic is not None:
        import tempfile

        from altair.inference.mosaic import write_mosaic_vrt
        if any(isinstance(item, Tensor) for _, item in inputs):
            raise PredictOptionError('mosaic combines raster files, not arrays')
        if not mosaic or Path(mosaic).name != mosaic:
            raise PredictOptionError(f"mosaic must be a plain name for the outputs, got "
                                     f"'{mosaic}'")
        vrt_dir = tempfile.TemporaryDirectory(prefix='altair_mosaic_')
        inputs = [(mosaic, write_mosaic_vrt([item for _, item in inputs],
                                            Path(vrt_dir.name) / f'{mosaic}.vrt'))]
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if world > 1 and device == 'cuda':
        device = f'cuda:{local_rank % torch.cuda.device_count()}'
    if out_dir is not None and save:
        ensure_writable_dir(out_dir)  # before the model loads
    net, default_out = _resolve_model(model, device, root, backend)
    if getattr(net, 'session', None) is not None:  # onnxruntime computes in fp32 on the CPU
        if precision not in ('auto', 'fp32'):
            raise PredictOptionError(f"precision '{precision}' with an ONNX model: "
                                     'onnxruntime runs the exported fp32 graph (use fp32)')
        precision = 'fp32'
    crop = getattr(net, 'altair_train_crop', None)
    window = window_size if window_size is not None else (crop or (512, 512))
    window = (window, window) if isinstance(window, int) else tuple(window)
    trained = getattr(net, 'altair_raster', {})
    out = Path(out_dir) if out_dir is not None else default_out
    results = []
    with raster_env(), (vrt_dir or contextlib.nullcontext()):
        for stem, item in inputs:
            if isinstance(item, Tensor):
                value = nodata if nodata is not None else trained.get('nodata')
                from altair.inference.nodata import check_nodata
                from altair.inference.sliding import TensorSource
                ctx = TensorSource(item, nodata=check_nodata(value, item.numpy().dtype.name,
                                                             stem))
            else:
                ctx = open_image(item, bands=trained.get('bands'), nodata=nodata,
                                 default_nodata=trained.get('nodata'))
            with ctx as src:
                check_bands(net, src.shape[0], _image_name(src, stem))
                src.fill = nodata_fill(net, src.shape[0])
                _, h, w = src.shape
                slide = sliding_window if sliding_window != 'auto' else (
                    h > (crop or window)[0] or w > (crop or window)[1])
                fitted, fitted_stride = fit_window(window, stride, h, w)
                if slide and fitted != window:  # nothing pads or batches a window of void
                    logger.info(f'{stem}: window {window[0]}x{window[1]} is larger than the '
                                f'{h}x{w} image; using {fitted[0]}x{fitted[1]}')
                # a whole-image prediction is one window: nothing to batch
                batch = batch_size or (images_per_call(net, src.shape[0], fitted, precision,
                                                       probe=world == 1) if slide else 1)
                if split and slide:
                    results.append(predict_dist.predict_blocks(
                        net, src, out, stem, rank=rank, world=world, group=group,
                        window=fitted, overlap=overlap, stride=fitted_stride, blend=blend,
                        batch_size=batch, save=set(save), probs_dtype=probs_dtype,
                        precision=precision, tta=transforms, tta_scales=tta_scales,
                        tta_merge=tta_merge, uncertainty=uncertainty, format=format,
                        progress=progress))
                    continue
                if split and rank > 0:  # a whole-image prediction is one rank's work
                    continue
                results.append(predict_source(
                    net, src, out, stem, sliding_window=slide, window=fitted,
                    overlap=None if stride else overlap, stride=fitted_stride,
                    blend=blend, batch_size=batch, save=save,
                    probs_dtype=probs_dtype, return_probs=return_probs, precision=precision,
                    tta=transforms, tta_scales=tta_scales, tta_merge=tta_merge,
                    uncertainty=uncertainty, format=format, polygons_format=polygons_format,
                    min_area=min_area, simplify=simplify, resume=resume,
                    progress=progress and rank == 0))
    if world > 1:  # every rank returns every result
        return predict_dist.gather(results, group, order)
    return results
