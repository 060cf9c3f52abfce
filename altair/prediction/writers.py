"""Streaming writers for sliding-window predictions.

A :class:`PredictionWriter` is a :class:`~altair.prediction.sinks.Sink`: it receives the
finished bands of rows top to bottom, decoded once (:class:`~altair.prediction.sinks.Band`),
and writes, row band by row band,

- a tiled, deflate-compressed label GeoTIFF (uint8, or uint16 beyond 255 classes; nodata
  255 / 65535) that keeps the source CRS and transform, with a colour table when a palette
  is given;
- optionally a probability GeoTIFF (K bands, uint8 scaled 0-255 or float32);
- optionally an uncertainty GeoTIFF (one float32 band, ``altair.inference.uncertainty``);
- optionally a colour PNG preview, downsampled by striding so its long side is at most
  ``preview_max_side``.

With ``format='cog'`` the finished GeoTIFFs are converted to Cloud-Optimized GeoTIFFs.
Everything goes to temporary names that are renamed only by ``close()`` after success;
``abort()`` (or leaving a ``with`` block by an exception) removes them, so an interrupted run
leaves nothing under the final names.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from altair.fileio import commit, discard, fsync_path, partial_path
from altair.prediction.journal import ResumeError
from altair.prediction.sinks import Band, label_nodata
from altair.raster.write import copy_geotiff, stream_profile, write_cog, write_png
from altair.visualization.overlay import colorize, default_palette

PROB_DTYPES = ('uint8', 'float32')
FORMATS = ('cog', 'gtiff')
# overview resampling per output: labels by mode (an average of class ids is no class)
OVERVIEW_RESAMPLING = dict(labels='MODE', probs='AVERAGE', uncertainty='AVERAGE')


class PredictionWriter:
    """Write labels (and optionally probabilities, uncertainty and a PNG preview) band by band.

    Args:
        labels_path: output label raster (nodata 255, or 65535 beyond 255 classes).
        height, width: image size.
        num_classes: K.
        transform, crs: georeferencing to keep (``None`` for plain images).
        probs_path: optional probability raster.
        probs_dtype: ``'uint8'`` (probability × 255, rounded; nodata pixels masked by an
            internal mask band, since every byte is a probability) or ``'float32'`` (NaN).
        preview_path: optional colour PNG (nodata black).
        palette: K RGB triples for the colour table and the preview.
        preview_max_side: long side of the preview in pixels.
        uncertainty_path, uncertainty: optional float32 band of one measure of
            ``altair.inference.uncertainty.MEASURES`` (NaN where there is no data).
        masked: the input has nodata (bands then arrive with their data masks).
        format: ``'cog'`` (Cloud-Optimized GeoTIFF: tiled, with overviews — mode for labels,
            average for scores — and the colour table; GDAL's COG driver) or ``'gtiff'``
            (tiled GeoTIFF, no overviews). Either is copied from the streamed temporary file
            when the stream is complete, so the bytes depend only on the pixels: a resumed
            run writes the same file as an uninterrupted one.
        resume_rows: continue the temporary files an interrupted writer left, whose first
            ``resume_rows`` rows were made durable by :meth:`sync`.
        finish: ``False`` renames the streamed files to their final names as they are (one
            row block of a prediction split across processes, which
            ``altair.raster.write.stack_rows`` joins and converts).
    """

    def __init__(self, labels_path: str | os.PathLike, *, height: int, width: int,
                 num_classes: int, transform=None, crs=None,
                 probs_path: str | os.PathLike | None = None, probs_dtype: str = 'uint8',
                 preview_path: str | os.PathLike | None = None,
                 palette: Sequence[Sequence[int]] | None = None,
                 preview_max_side: int = 4096,
                 uncertainty_path: str | os.PathLike | None = None,
                 uncertainty: str | None = None, masked: bool = False,
                 format: str = 'gtiff', resume_rows: int | None = None,
                 finish: bool = True) -> None:
        import rasterio
        from rasterio.transform import Affine

        if probs_dtype not in PROB_DTYPES:
            raise ValueError(f"probs_dtype must be one of {', '.join(PROB_DTYPES)}, "
                             f"got '{probs_dtype}'")
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got '{format}'")
        if (uncertainty_path is None) != (uncertainty is None):
            raise ValueError('give uncertainty_path and uncertainty together')
        self.height, self.width, self.num_classes = height, width, num_classes
        self.label_dtype = 'uint8' if num_classes <= 255 else 'uint16'
        self.probs_dtype = probs_dtype
        self.palette = palette
        self.uncertainty = uncertainty
        self.format = format
        self._finish = finish
        self._masked = masked
        self._final: dict[str, Path] = {}
        self._tmp: dict[str, Path] = {}
        self._rows_done = 0
        common = stream_profile(
            width, height, crs=crs,
            transform=transform if transform is not None else Affine.identity())
        self._files: dict[str, object] = {}
        self._resume = resume_rows is not None
        self._files['labels'] = self._open(rasterio, 'labels', labels_path, count=1,
                                           dtype=self.label_dtype,
                                           nodata=label_nodata(num_classes), **common)
        if palette is not None and self.label_dtype == 'uint8' and not self._resume:
            self._files['labels'].write_colormap(1, {i: tuple(int(v) for v in p) + (255,)
                                                     for i, p in enumerate(palette)})
        if probs_path is not None:
            self._files['probs'] = self._open(
                rasterio, 'probs', probs_path, count=num_classes, dtype=probs_dtype,
                **dict(common, nodata=float('nan')) if probs_dtype == 'float32' else common)
        if uncertainty_path is not None:
            self._files['uncertainty'] = self._open(
                rasterio, 'uncertainty', uncertainty_path, count=1, dtype='float32',
                nodata=float('nan'), **common)
            if not self._resume:
                self._files['uncertainty'].set_band_description(1, uncertainty)
        self._preview = None
        if preview_path is not None:
            self._step = max(1, math.ceil(max(height, width) / preview_max_side))
            self._preview_path = Path(preview_path)
            self._preview = np.full((math.ceil(height / self._step),
                                     math.ceil(width / self._step)),
                                    label_nodata(num_classes), dtype=np.int64)
        if self._resume:
            self._rows_done = resume_rows
            if self._preview is not None and resume_rows:
                done = self._files['labels'].read(1, window=((0, resume_rows), (0, width)))
                kept = done[::self._step, ::self._step]
                self._preview[:kept.shape[0]] = kept

    def _open(self, rasterio, kind: str, path, **profile):
        import warnings
        final = Path(path)
        self._final[kind] = final
        self._tmp[kind] = tmp = partial_path(final)
        if self._resume:
            if not tmp.is_file():
                raise ResumeError(f"--resume: the partial output '{tmp}' is gone; run "
                                  'without --resume to start again')
            return rasterio.open(tmp, 'r+')
        with warnings.catch_warnings():  # a plain (PNG/JPEG) source has no georeference
            warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
            return rasterio.open(tmp, 'w', **profile)

    def sync(self) -> None:
        """Make every row written so far durable (GDAL writes its cached blocks when a
        dataset closes): the files are closed, fsynced (so a journal written after names
        rows on the disk, not in the page cache) and reopened for update."""
        import rasterio
        for kind, ds in self._files.items():
            ds.close()
            fsync_path(self._tmp[kind])
            self._files[kind] = rasterio.open(self._tmp[kind], 'r+')

    def needs(self) -> tuple[bool, str | None]:
        """(whether the bands must carry probabilities, the uncertainty measure)."""
        return 'probs' in self._files, self.uncertainty

    def __call__(self, band: Band) -> None:
        """Write ``band``'s rows ``[band.row0, band.row0 + band.rows)``."""
        from rasterio.windows import Window

        row0, rows = band.row0, band.rows
        if row0 != self._rows_done:
            raise ValueError(f'bands must arrive in order: expected row {self._rows_done}, '
                             f'got {row0}')
        window = Window(0, row0, self.width, rows)
        labels = band.labels.cpu().numpy().astype(self.label_dtype)
        self._files['labels'].write(labels[None], window=window)
        if 'probs' in self._files:
            probs = band.probs.cpu().numpy()
            if self.probs_dtype == 'uint8':
                probs = np.rint(np.nan_to_num(probs) * 255).astype(np.uint8)
            self._files['probs'].write(probs, window=window)
            if self._masked and self.probs_dtype == 'uint8':
                mask = (np.full((rows, self.width), 255, np.uint8) if band.valid is None
                        else band.valid.cpu().numpy().astype(np.uint8) * 255)
                self._files['probs'].write_mask(mask, window=window)
        if band.uncertainty is not None and 'uncertainty' in self._files:
            self._files['uncertainty'].write(band.uncertainty.cpu().numpy()[None],
                                             window=window)
        if self._preview is not None:
            first = (-row0) % self._step  # first row in this band on the preview's lattice
            sel = labels[first::self._step, ::self._step]
            start = (row0 + first) // self._step
            self._preview[start:start + sel.shape[0]] = sel
        self._rows_done += rows

    def state(self) -> None:
        """:meth:`sync`: the rows written so far are durable; the journal's row count is the
        whole resume state of this sink."""
        self.sync()

    def close(self) -> dict[str, Path]:
        """Finish the files (converted to COG with ``format='cog'``), move them to their
        final names and return those by kind (``'labels'``, ``'probs'``, ``'uncertainty'``,
        ``'preview'``)."""
        if self._rows_done != self.height:
            self.abort()
            raise RuntimeError(f'only {self._rows_done} of {self.height} rows were written')
        try:
            for ds in self._files.values():
                ds.close()
            for kind, tmp in self._tmp.items():
                if not self._finish:
                    commit(tmp, self._final[kind])
                elif self.format == 'cog':
                    write_cog(tmp, self._final[kind], resampling=OVERVIEW_RESAMPLING[kind])
                else:
                    copy_geotiff(tmp, self._final[kind])
                discard(tmp)
        except BaseException:
            self.abort()
            raise
        if self._preview is not None:  # written atomically by write_png
            palette = self.palette or default_palette(self.num_classes)
            # nodata (255 / 65535) lies outside the palette: black
            self._final['preview'] = write_png(self._preview_path,
                                               colorize(self._preview, palette))
        return dict(self._final)

    def abort(self, keep: bool = False) -> None:
        """Close and delete every temporary file (nothing appears under the final names);
        ``keep`` leaves them for a resume."""
        for ds in self._files.values():
            if not ds.closed:
                ds.close()
        if not keep:
            for tmp in self._tmp.values():
                discard(tmp)

    def __enter__(self) -> 'PredictionWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def write_preview(labels_path: str | os.PathLike, preview_path: str | os.PathLike, *,
                  palette: Sequence[Sequence[int]] | None, num_classes: int,
                  max_side: int = 4096, strip_rows: int = 4096) -> Path:
    """The colour PNG :class:`PredictionWriter` streams (every ``step``-th label, long side at
    most ``max_side``, nodata black), made from a finished label raster read in strips."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(labels_path) as ds:
        step = max(1, math.ceil(max(ds.height, ds.width) / max_side))
        strip = max(step, strip_rows // step * step)  # whole lattice periods per strip
        parts = [ds.read(1, window=Window(0, y, ds.width, min(strip, ds.height - y)))
                 [::step, ::step] for y in range(0, ds.height, strip)]
    return write_png(preview_path, colorize(np.concatenate(parts).astype(np.int64),
                                            palette or default_palette(num_classes)))


class LabelCollector:
    """A sink that keeps the labels (and optionally the probabilities and uncertainty) in
    memory.

    Attributes:
        labels: (H, W) uint8 class indices (uint16 beyond 255 classes), nodata 255 / 65535.
        probs: (K, H, W) float32 softmax probabilities (NaN where no data), or None.
        uncertainty: (H, W) float32 of the measure asked for (NaN where no data), or None.
    """

    def __init__(self, *, height: int, width: int, num_classes: int,
                 probs: bool = False, uncertainty: str | None = None) -> None:
        dtype = np.uint8 if num_classes <= 255 else np.uint16
        self.num_classes, self.measure = num_classes, uncertainty
        self.labels = np.zeros((height, width), dtype)
        self.probs = np.zeros((num_classes, height, width), np.float32) if probs else None
        self.uncertainty = (np.zeros((height, width), np.float32) if uncertainty is not None
                            else None)

    def needs(self) -> tuple[bool, str | None]:
        return self.probs is not None, self.measure

    def __call__(self, band: Band) -> None:
        rows = slice(band.row0, band.row0 + band.rows)
        self.labels[rows] = band.labels.cpu().numpy()
        if self.probs is not None:
            self.probs[:, rows] = band.probs.cpu().numpy()
        if self.uncertainty is not None:
            self.uncertainty[rows] = band.uncertainty.cpu().numpy()

    def state(self) -> None:
        """Nothing to make durable: a resumed run reads the finished rows back from the
        files (:func:`~altair.prediction.outputs.read_back`)."""

    def close(self) -> dict:
        return {}

    def abort(self, keep: bool = False) -> None:
        """Nothing on disk."""
