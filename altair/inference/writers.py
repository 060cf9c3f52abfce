"""Streaming writers for sliding-window predictions.

A :class:`PredictionWriter` is the engine's ``sink``: it receives finalised bands of logits
(K, rows, W) top to bottom and writes, row band by row band,

- a tiled, deflate-compressed label GeoTIFF (uint8, or uint16 beyond 255 classes) that keeps
  the source CRS and transform, with a colour table when a palette is given;
- optionally a probability GeoTIFF (K bands, uint8 scaled 0-255 or float32);
- optionally a colour PNG preview, downsampled by striding so its long side is at most
  ``preview_max_side``.

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
import torch
from torch import Tensor

from altair.inference.postprocess import labels_from_logits
from altair.inference.raster import geotiff_profile, partial_path

PROB_DTYPES = ('uint8', 'float32')


class PredictionWriter:
    """Write labels (and optionally probabilities and a PNG preview) band by band.

    Args:
        labels_path: output label GeoTIFF.
        height, width: image size.
        num_classes: K.
        transform, crs: georeferencing to keep (``None`` for plain images).
        probs_path: optional probability GeoTIFF.
        probs_dtype: ``'uint8'`` (probability × 255, rounded) or ``'float32'``.
        preview_path: optional colour PNG.
        palette: K RGB triples for the colour table and the preview.
        preview_max_side: long side of the preview in pixels.
    """

    def __init__(self, labels_path: str | os.PathLike, *, height: int, width: int,
                 num_classes: int, transform=None, crs=None,
                 probs_path: str | os.PathLike | None = None, probs_dtype: str = 'uint8',
                 preview_path: str | os.PathLike | None = None,
                 palette: Sequence[Sequence[int]] | None = None,
                 preview_max_side: int = 4096) -> None:
        import rasterio
        from rasterio.transform import Affine

        if probs_dtype not in PROB_DTYPES:
            raise ValueError(f"probs_dtype must be one of {', '.join(PROB_DTYPES)}, "
                             f"got '{probs_dtype}'")
        self.height, self.width, self.num_classes = height, width, num_classes
        self.label_dtype = 'uint8' if num_classes <= 256 else 'uint16'
        self.probs_dtype = probs_dtype
        self.palette = palette
        self._final: dict[str, Path] = {}
        self._tmp: list[Path] = []
        self._rows_done = 0
        common = geotiff_profile(
            width, height, crs=crs,
            transform=transform if transform is not None else Affine.identity())
        self._labels = self._open(rasterio, 'labels', labels_path, count=1,
                                  dtype=self.label_dtype, **common)
        if palette is not None and self.label_dtype == 'uint8':
            self._labels.write_colormap(1, {i: tuple(int(v) for v in p) + (255,)
                                            for i, p in enumerate(palette)})
        self._probs = None
        if probs_path is not None:
            self._probs = self._open(rasterio, 'probs', probs_path, count=num_classes,
                                     dtype=probs_dtype, **common)
        self._preview = None
        if preview_path is not None:
            self._step = max(1, math.ceil(max(height, width) / preview_max_side))
            self._preview_path = Path(preview_path)
            self._preview = np.zeros((math.ceil(height / self._step),
                                      math.ceil(width / self._step)), dtype=np.int64)

    def _open(self, rasterio, kind: str, path, **profile):
        import warnings
        final = Path(path)
        tmp = partial_path(final)
        self._final[kind] = final
        self._tmp.append(tmp)
        with warnings.catch_warnings():  # a plain (PNG/JPEG) source has no georeference
            warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
            return rasterio.open(tmp, 'w', **profile)

    def __call__(self, row0: int, logits: Tensor) -> None:
        """Write the band of rows ``[row0, row0 + logits.shape[1])`` of (K, rows, W) logits."""
        from rasterio.windows import Window

        if row0 != self._rows_done:
            raise ValueError(f'bands must arrive in order: expected row {self._rows_done}, '
                             f'got {row0}')
        rows = logits.shape[1]
        window = Window(0, row0, self.width, rows)
        labels = labels_from_logits(logits).cpu().numpy().astype(self.label_dtype)
        self._labels.write(labels[None], window=window)
        if self._probs is not None:
            probs = torch.softmax(logits.float(), 0).cpu().numpy()
            if self.probs_dtype == 'uint8':
                probs = np.rint(probs * 255).astype(np.uint8)
            self._probs.write(probs.astype(self.probs_dtype, copy=False), window=window)
        if self._preview is not None:
            first = (-row0) % self._step  # first row in this band on the preview's lattice
            sel = labels[first::self._step, ::self._step]
            start = (row0 + first) // self._step
            self._preview[start:start + sel.shape[0]] = sel
        self._rows_done += rows

    def close(self) -> dict[str, Path]:
        """Finish the files, move them to their final names and return those by kind
        (``'labels'``, ``'probs'``, ``'preview'``)."""
        if self._rows_done != self.height:
            self.abort()
            raise RuntimeError(f'only {self._rows_done} of {self.height} rows were written')
        self._labels.close()
        if self._probs is not None:
            self._probs.close()
        for tmp, final in zip(self._tmp, self._final.values()):
            os.replace(tmp, final)
        if self._preview is not None:  # written atomically by write_png
            from altair.inference.raster import write_png
            from altair.visualization.overlay import colorize
            palette = self.palette or _default_palette(self.num_classes)
            self._final['preview'] = write_png(self._preview_path,
                                               colorize(self._preview, palette))
        return dict(self._final)

    def abort(self) -> None:
        """Close and delete every temporary file (nothing appears under the final names)."""
        for ds in (self._labels, self._probs):
            if ds is not None and not ds.closed:
                ds.close()
        for tmp in self._tmp:
            tmp.unlink(missing_ok=True)

    def __enter__(self) -> 'PredictionWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def _default_palette(n: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(42)
    return [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(n)]


class LabelCollector:
    """A sink that keeps the labels (and optionally the probabilities) in memory.

    Attributes:
        labels: (H, W) uint8 class indices (uint16 beyond 256 classes).
        probs: (K, H, W) float32 softmax probabilities, or None.
    """

    def __init__(self, *, height: int, width: int, num_classes: int,
                 probs: bool = False) -> None:
        dtype = np.uint8 if num_classes <= 256 else np.uint16
        self.labels = np.zeros((height, width), dtype)
        self.probs = np.zeros((num_classes, height, width), np.float32) if probs else None

    def __call__(self, row0: int, logits: Tensor) -> None:
        rows = logits.shape[1]
        self.labels[row0:row0 + rows] = labels_from_logits(logits).cpu().numpy()
        if self.probs is not None:
            self.probs[:, row0:row0 + rows] = torch.softmax(logits.float(), 0).cpu().numpy()


def tee(*sinks):
    """One sink that hands every band to each of ``sinks`` in turn."""
    def sink(row0: int, logits: Tensor) -> None:
        for s in sinks:
            s(row0, logits)
    return sink
