"""One image's prediction, from an opened source to its outputs.

:func:`plan_image` resolves the options for the image (whole or windows, window, stride,
batch, format, outputs); :func:`predict_image` streams it into its sinks under the outputs'
lock, with a journal a stopped run resumes from; :func:`stream` is the engine call both
this and the row-block path of ``altair.prediction.dist`` make.
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from altair.fileio import ensure_writable_dir, file_identity
from altair.inference.grid import resolve_window, window_grid
from altair.inference.sliding import sliding_window_inference
from altair.models.card import card_of
from altair.prediction.journal import journal_path, load_journal, remove_journal, save_journal
from altair.prediction.lock import OutputLock, lock_path
from altair.prediction.model import WindowPredictor, check_bands
from altair.prediction.options import FORMATS, PredictOptionError, PredictOptions
from altair.prediction.outputs import read_back, write_overlay, write_scalar_png
from altair.prediction.polygons import PolygonWriter
from altair.prediction.result import IN_MEMORY_PIXELS, Prediction
from altair.prediction.sinks import FanOut
from altair.prediction.writers import LabelCollector, PredictionWriter
from altair.raster.sources import open_image, raster_env

logger = logging.getLogger('altair')
FILE_KINDS = frozenset({'labels', 'probs', 'preview', 'polygons'})


def image_name(src, stem: str) -> str:
    """``image '<path>'`` (or ``image array '<stem>'``) for messages."""
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


def output_format(src, format: str | None) -> str:
    """``format``, else COG for a georeferenced source and plain GeoTIFF otherwise."""
    return format or ('cog' if getattr(src, 'crs', None) is not None else 'gtiff')


@dataclass(frozen=True)
class ImageJob:
    """The options resolved for one image: its output name and folder, whether windows
    slide, the window and stride, blend, images per forward pass, format and outputs (and
    whether any is streamed to a file, so journaled)."""
    stem: str
    out: Path
    slide: bool
    window: tuple[int, int]
    stride: tuple[int, int]
    blend: str
    batch_size: int
    format: str
    save: frozenset[str]
    streamed: bool  # files are streamed (labels, probs, preview, polygons, uncertainty)


def plan_image(src, stem: str, options: PredictOptions, *, out: Path, slide: bool,
               window: tuple[int, int], batch_size: int) -> ImageJob:
    """``options`` for ``src``: the window cut to the image; a whole image as one window of
    constant weight; outputs too large for memory written as a label file.

    Raises:
        PredictOptionError: a whole-image prediction of more than ``IN_MEMORY_PIXELS``, or an
            unknown format.
    """
    _, height, width = src.shape
    fmt = output_format(src, options.format)
    if fmt not in FORMATS:
        raise PredictOptionError(f"format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    blend = options.blend
    if slide:
        fitted, stride = fit_window(window, options.stride, height, width)
        if fitted != window:  # nothing pads or batches a window of void
            logger.info(f'{stem}: window {window[0]}x{window[1]} is larger than the '
                        f'{height}x{width} image; using {fitted[0]}x{fitted[1]}')
        win, step = resolve_window(fitted, overlap=None if stride else options.overlap,
                                   stride=stride)
    else:  # the whole image is one window; constant weights make it exact
        if height * width > IN_MEMORY_PIXELS:
            raise PredictOptionError(f'{stem}: {height}x{width} is too large to predict whole; '
                                     "use sliding_window=True or 'auto'")
        win = step = (height, width)
        blend = 'constant'
    save = set(options.save)
    if height * width > IN_MEMORY_PIXELS and 'labels' not in save:
        logger.warning(f'{stem}: {height}x{width} is too large to return as an array; '
                       'writing the label GeoTIFF')
        save.add('labels')
    return ImageJob(stem, out, bool(slide), win, step, blend, batch_size, fmt, frozenset(save),
                    bool(save & FILE_KINDS) or options.uncertainty is not None)


def stream(src, wp: WindowPredictor, job: ImageJob, options: PredictOptions, sink, *,
           progress=None, stats: dict | None = None, resume=None, checkpoint=None,
           stop: int | None = None) -> None:
    """The sliding-window engine over ``src`` for ``job``, every finished band to ``sink``."""
    masked = bool(getattr(src, 'masked', False))
    sliding_window_inference(
        src, wp.predictor, window=job.window, stride=job.stride, num_classes=wp.channels,
        batch_size=job.batch_size, blend=job.blend, precision=options.precision,
        device=wp.device, accumulate_device='cpu', channels_last=wp.device.type == 'cpu',
        preprocess=wp.preprocess, sink=sink, progress=progress,
        valid=src.read_valid if masked else None, stats=stats, resume=resume,
        checkpoint=checkpoint, stop=stop)


def _identity(src) -> dict | str:
    """The source image as the journal records it (an in-memory array by its shape)."""
    path = getattr(src, 'path', None)
    return file_identity(path) if path is not None else f'array {tuple(src.shape)}'


def _resume_state(job: ImageJob, options: PredictOptions, journal: Path, args: dict,
                  height: int) -> dict | None:
    """The journal to continue (``options.resume``), else None, a stale one removed. A
    requeued job (Slurm, a cron retry) runs the same command every time: with nothing to
    resume, ``resume`` starts fresh."""
    stem, streamed = job.stem, job.streamed
    if options.resume and not streamed:
        logger.info(f'{stem}: --resume: nothing to resume (only labels, probs, preview, '
                    'polygons and uncertainty are streamed and journaled); starting fresh')
    elif options.resume and not journal.is_file():
        logger.info(f"{stem}: --resume: nothing to resume (no journal '{journal.name}' "
                    f"in '{job.out}'); starting fresh")
    elif options.resume:
        state = load_journal(journal, args)
        logger.info(f"{stem}: resuming at row {state['rows_done']} of {height}")
        return state
    elif journal.is_file():
        logger.info(f'{stem}: an interrupted prediction was here; starting again (--resume '
                    'continues one)')
        remove_journal(journal)
    return None


def _open_sinks(model, src, job: ImageJob, options: PredictOptions, state: dict | None,
                palette) -> tuple[PredictionWriter | None, LabelCollector | None,
                                  PolygonWriter | None]:
    """The file writer (labels always where anything is streamed: a resume reads them
    back), the in-memory collector (images up to ``IN_MEMORY_PIXELS``) and the polygons."""
    _, height, width = src.shape
    num_classes, out, stem = model.out_channels, job.out, job.stem
    collector = LabelCollector(
        height=height, width=width, num_classes=num_classes, probs=options.return_probs,
        uncertainty=options.uncertainty) if height * width <= IN_MEMORY_PIXELS else None
    polygons = writer = None
    geo = dict(transform=getattr(src, 'transform', None), crs=getattr(src, 'crs', None))
    try:
        if 'polygons' in job.save:
            polygons = PolygonWriter(
                out / f'{stem}_polygons.{options.polygons_format}', width=width, height=height,
                num_classes=num_classes, class_names=card_of(model).classes,
                min_area=options.min_area, simplify=options.simplify,
                resume_state=state['polygons'] if state else None, **geo)
        if job.streamed:  # labels always (polygons-only runs too): a resume reads them back
            unc = options.uncertainty
            writer = PredictionWriter(
                out / f'{stem}_labels.tif', height=height, width=width,
                num_classes=num_classes,
                probs_path=out / f'{stem}_probs.tif' if 'probs' in job.save else None,
                probs_dtype=options.probs_dtype,
                preview_path=out / f'{stem}_preview.png' if 'preview' in job.save else None,
                palette=palette, masked=bool(getattr(src, 'masked', False)), format=job.format,
                uncertainty=unc, uncertainty_path=out / f'{stem}_uncertainty.tif' if unc else None,
                resume_rows=state['rows_done'] if state else None, **geo)
    except BaseException:
        if polygons is not None:
            polygons.abort(keep=state is not None)
        raise
    return writer, collector, polygons


def predict_image(model, src, job: ImageJob, options: PredictOptions, *,
                  palette: Sequence | None = None, progress: bool = True) -> Prediction:
    """Predict the opened image ``src`` with ``model`` as ``job`` says.

    The logits are streamed band by band into the requested files under ``job.out``
    (``<stem>_labels.tif`` keeping the source CRS and transform, ``<stem>_probs.tif``,
    ``<stem>_uncertainty.tif``, ``<stem>_preview.png``, ``<stem>_polygons.gpkg``, then
    ``<stem>_overlay.png``; all written atomically) and, for images up to
    ``IN_MEMORY_PIXELS``, into arrays. File outputs keep a progress journal
    (``altair.prediction.journal``): a run that stops leaves its rows and ``resume`` with the
    same arguments continues it, writing the same bytes an uninterrupted run would. While it
    writes, the outputs are locked (``altair.prediction.lock``): another prediction into them
    fails with ``OutputLockedError`` naming this process.
    """
    check_bands(model, src.shape[0], image_name(src, job.stem))
    wp = WindowPredictor.build(model, options, src.shape[0], job.batch_size)
    palette = palette if palette is not None else card_of(model).palette
    if job.save or job.streamed:
        ensure_writable_dir(job.out)
    # one writer per output: a second prediction into these outputs is refused, not mixed in
    lock = (OutputLock(lock_path(job.out, job.stem), f"'{job.stem}_*'")
            if job.save or job.streamed else contextlib.nullcontext())
    with lock:
        return _locked(model, src, job, options, wp, palette, progress)


def _locked(model, src, job: ImageJob, options: PredictOptions, wp: WindowPredictor, palette,
            progress: bool) -> Prediction:
    from mmengine.utils import ProgressBar
    _, height, width = src.shape
    journal = journal_path(job.out, job.stem)
    args = options.journal(
        image=_identity(src), model=card_of(model).source, window=job.window,
        stride=job.stride, blend=job.blend, batch_size=job.batch_size, device=wp.device.type,
        save=job.save, format=job.format,
        nodata=getattr(src, 'nodata', None), bands=getattr(src, 'bands', None))
    state = _resume_state(job, options, journal, args, height)
    total = len(window_grid(height, width, job.window, job.stride)) - (
        state['window'] if state else 0)
    bar = ProgressBar(total) if progress and total > 1 else None
    writer, collector, polygons = _open_sinks(model, src, job, options, state, palette)
    sinks = [s for s in (writer, collector, polygons) if s is not None]
    stats: dict = {}
    journaled = state is not None

    def checkpoint(rows_done: int, window_index: int, band: dict) -> None:
        nonlocal journaled
        if writer is not None:
            writer.state()
        save_journal(journal, args, rows_done=rows_done, window=window_index, band=band,
                     polygons=polygons.state() if polygons is not None else None)
        journaled = True
    try:
        stream(src, wp, job, options, FanOut(sinks, model.out_channels),
               progress=bar.update if bar else None, stats=stats,
               resume=(state['rows_done'], state['window'], state['band']) if state else None,
               checkpoint=checkpoint if job.streamed else None)
        written = {}
        for sink in (writer, polygons):
            written.update(sink.close() if sink is not None else {})
    except BaseException as exc:
        for sink in (writer, polygons):
            if sink is not None:
                sink.abort(keep=journaled)
        if journaled:
            logger.warning(f'{job.stem}: stopped ({type(exc).__name__}); the rows done are '
                           'kept: the same command with --resume continues')
        raise
    remove_journal(journal)
    if bar:
        print()
    if state is not None and collector is not None:  # rows before the resume: from the files
        collector = read_back(written, collector)
    return _finish(model, src, job, options, written, collector, stats, palette)


def _finish(model, src, job: ImageJob, options: PredictOptions, written: dict,
            collector: LabelCollector | None, stats: dict, palette) -> Prediction:
    """The outputs made from the finished labels, and the :class:`Prediction`."""
    _, height, width = src.shape
    out, stem = job.out, job.stem
    if stats.get('skipped'):
        logger.info(f"{stem}: {stats['skipped']} of {stats['windows']} windows hold only "
                    'nodata: skipped')
    if 'labels' not in job.save and 'labels' in written:  # only written for probs / preview
        written.pop('labels').unlink()
    if 'overlay' in job.save:
        written['overlay'] = write_overlay(
            src, collector.labels if collector else written['labels'],
            out / f'{stem}_overlay.png', palette=palette, num_classes=model.out_channels,
            classes=card_of(model).classes)
    if options.uncertainty is not None and job.save & {'overlay', 'preview'}:
        written['uncertainty_png'] = write_scalar_png(
            written['uncertainty'], out / f'{stem}_uncertainty.png', height=height, width=width)
    return Prediction(source=getattr(src, 'path', None),
                      labels=collector.labels if collector else written['labels'],
                      probs=collector.probs if collector else None,
                      uncertainty=collector.uncertainty if collector else None,
                      written=written, sliding_window=job.slide,
                      windows=stats.get('windows', 0), skipped_windows=stats.get('skipped', 0))


def predict_file(model, image: str | os.PathLike, out_dir: str | os.PathLike, *,
                 window: tuple[int, int] = (512, 512), probs: bool = False,
                 preview: bool = True, palette: Sequence | None = None, progress: bool = True,
                 **options) -> dict[str, Path]:
    """Sliding-window prediction of one image file into ``out_dir`` (``<stem>_labels.tif``,
    optionally ``_probs.tif`` and ``_preview.png``); returns the written paths by kind.
    ``options`` as :class:`PredictOptions` (``overlap``, ``stride``, ``window_batch``, ...)."""
    save = ['labels'] + ['probs'] * probs + ['preview'] * preview
    opts = PredictOptions(save=save, window_size=tuple(window), **options)
    with raster_env(), open_image(image) as src:
        job = plan_image(src, Path(image).stem, opts, out=Path(out_dir), slide=True,
                         window=tuple(window), batch_size=opts.window_batch or 4)
        return predict_image(model, src, job, opts, palette=palette,
                             progress=progress).written
