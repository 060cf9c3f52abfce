"""One volume case's prediction, streamed slab by slab along the axis the model was trained on.

The model's card says how it read volumes (``raster['volume']``: the slicing ``axis`` and
each channel's ``normalize``). A case's channels are read a slab of slices at a time,
scaled as in training (:func:`~altair.datasets.volume.normalise`, the same per-volume
percentiles or window), the windows of the slab's slices batched together
(:func:`~altair.inference.slab.slab_logits`, TTA around the predictor as for images), and
the labels of each slab handed to the output volumes (:class:`VolumeWriter`), which keep the
source's header. Memory is a slab's logits and inputs, not the volume's (the outputs are
buffered whole only when the training axis is not the one the file stores slowest).

Outputs in ``out``: ``<case>_seg<suffix>`` (uint8 labels), ``<case>_probs<suffix>`` (4-D,
one volume per class, ``probs_dtype``), ``<case>_uncertainty<suffix>`` (float32) and
``<case>_preview.png`` (the middle slice along each axis, labels over the image). With
``resume`` a case whose outputs all exist is skipped (each is renamed into place only once
complete), as nnU-Net's ``--continue_prediction`` skips finished cases.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch

from altair.datasets.cases import case_norms, context_indices, normalise, open_case
from altair.fileio import ensure_writable_dir
from altair.inference.grid import resolve_window, window_grid
from altair.inference.slab import slab_logits
from altair.models.card import card_of
from altair.prediction.cases import VolumeCase
from altair.prediction.lock import OutputLock, lock_path
from altair.prediction.model import WindowPredictor, batch_for
from altair.prediction.options import PredictOptionError, PredictOptions
from altair.prediction.result import Prediction
from altair.prediction.sinks import decode
from altair.raster.volume import read_slice
from altair.raster.volume_write import VolumeWriter, volume_suffix
from altair.raster.write import write_png
from altair.visualization.overlay import (blend, colorize, default_palette, to_display_rgb,
                                          with_legend)

logger = logging.getLogger('altair')
SLAB_WINDOWS = 4  # a slab holds at least this many batches' worth of windows


def volume_facts(model) -> dict:
    """The model's ``axis`` and per-channel ``normalize`` list (one entry per input band).

    Raises:
        PredictOptionError: a model not trained on slices of volumes.
    """
    facts = card_of(model).raster.get('volume')
    if not facts:
        raise PredictOptionError('this model was not trained on volumes (its config has no '
                                 'VolumeSliceDataset), so it cannot say how to slice and '
                                 'scale one; predict volumes with a model trained on them')
    return dict(facts)


def open_channels(case: VolumeCase, model) -> tuple[list, list]:
    """(lazy arrays, per-channel (lo, hi) or None) of ``case``, checked against the model:
    the channel count it was trained on, 3-D, every channel of one shape."""
    facts = volume_facts(model)
    pre = model.data_preprocessor
    per_file = 2 * int(facts.get('context', 0)) + 1  # the slices each channel file gives
    wanted = (int(pre.mean.shape[0]) // per_file if getattr(pre, '_enable_normalize', False)
              else None)
    if wanted is not None and wanted != len(case.files):
        expected = f'the files <case>_0000 .. _{wanted - 1:04d}' if wanted > 1 else 'one volume'
        raise PredictOptionError(
            f"case '{case.stem}' has {len(case.files)} channel file(s) "
            f"({', '.join(f.name for f in case.files)}) but the model takes {wanted}: give "
            f'{expected}')
    arrays = open_case([str(f) for f in case.files])
    return arrays, case_norms(arrays, facts.get('normalize'))


class SlabReader:
    """A case's slabs in order along ``axis``, as (S, C', H, W) float32 scaled per channel:
    C' = C (2 context + 1), each channel's slices ``k - context .. k + context`` (the edge
    slice past an end), as ``LoadVolumeSlice`` reads them in training.

    Each slice is read from the files once: the context slices a slab shares with the one
    before are kept from that read. A gzipped file (``.nii.gz``) cannot seek back without
    decompressing from its start, so reading them again would make a volume's prediction
    quadratic in its depth."""

    def __init__(self, arrays: list, norms: list, axis: int, *, context: int = 0) -> None:
        self.arrays, self.norms, self.axis, self.context = arrays, norms, axis, context
        self.depth = int(arrays[0].shape[axis])
        self._first, self._kept = 0, None  # slices [first, first + n) per channel, (n, H, W)

    def _read(self, lo: int, hi: int) -> list[np.ndarray]:
        index = [slice(None)] * 3
        index[self.axis] = slice(lo, hi)
        return [np.moveaxis(normalise(np.asanyarray(a[tuple(index)]), n), self.axis, 0)
                for a, n in zip(self.arrays, self.norms)]

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Slices ``[start, stop)``; slabs are asked for in order (an earlier one is read
        from the files again)."""
        lo, hi = max(0, start - self.context), min(self.depth, stop + self.context)
        kept = self._kept
        if kept is None or lo < self._first:
            block = self._read(lo, hi)
        else:
            have = self._first + kept[0].shape[0]
            old = [k[lo - self._first:] for k in kept]
            block = (old if have >= hi else
                     [np.concatenate([o, f]) for o, f in zip(old, self._read(max(lo, have), hi))])
            block = [b[:hi - lo] for b in block]
        keep_from = max(lo, stop - self.context)  # what the next slab can share
        self._first, self._kept = keep_from, [b[keep_from - lo:] for b in block]
        picks = [[j - lo for j in context_indices(k, self.depth, self.context)]
                 for k in range(start, stop)]
        slab = np.stack([np.concatenate([b[p] for b in block]) for p in picks])
        return torch.from_numpy(np.ascontiguousarray(slab))


def case_outputs(case: VolumeCase, options: PredictOptions, out: Path) -> dict[str, Path]:
    """The files a case's prediction writes, by kind."""
    source = case.files[0]
    suffix = '.nii.gz' if source.is_dir() else volume_suffix(source)  # a DICOM series
    paths = dict(labels=out / f'{case.stem}_seg{suffix}')
    if 'probs' in options.save:
        paths['probs'] = out / f'{case.stem}_probs{suffix}'
    if options.uncertainty is not None:
        paths['uncertainty'] = out / f'{case.stem}_uncertainty{suffix}'
    if options.save and {'preview', 'overlay'} & set(options.save):
        paths['preview'] = out / f'{case.stem}_preview.png'
    return paths


def predict_case(model, case: VolumeCase, options: PredictOptions, *, out: Path,
                 progress: bool = True) -> Prediction:
    """Predict ``case`` with ``model`` into ``out`` (see the module docstring)."""
    paths = case_outputs(case, options, out)
    if options.resume and all(p.is_file() for p in paths.values()):
        logger.info(f'{case.stem}: finished before; skipped (--resume)')
        return Prediction(source=case.files[0], labels=paths['labels'], written=paths)
    arrays, norms = open_channels(case, model)
    ensure_writable_dir(out)
    with OutputLock(lock_path(out, case.stem), f"'{case.stem}_*'"):
        return _predict(model, case, options, arrays, norms, paths, progress)


def _predict(model, case: VolumeCase, options: PredictOptions, arrays: list, norms: list,
             paths: dict, progress: bool) -> Prediction:
    facts = volume_facts(model)
    axis, context = int(facts['axis']), int(facts.get('context', 0))
    shape = tuple(int(d) for d in arrays[0].shape)
    plane = tuple(d for i, d in enumerate(shape) if i != axis)
    card = card_of(model)
    window = options.window_size or card.train_crop or (512, 512)
    window = (window, window) if isinstance(window, int) else tuple(window)
    win, step = resolve_window(window, overlap=None if options.stride else options.overlap,
                               stride=options.stride)
    per_slice = len(window_grid(max(plane[0], win[0]), max(plane[1], win[1]), win, step))
    bands = len(arrays) * (2 * context + 1)
    batch = batch_for(model, options, bands, win, slide=True, probe=True)
    wp = WindowPredictor.build(model, options, bands, batch)
    k = model.out_channels
    slab = max(1, math.ceil(SLAB_WINDOWS * batch / per_slice))
    writers = _writers(paths, case, shape, axis, k, options)
    mids = MidSlices(shape, axis)
    bar = _bar(shape[axis], progress)
    reader = SlabReader(arrays, norms, axis, context=context)
    try:
        for start in range(0, shape[axis], slab):
            stop = min(shape[axis], start + slab)
            logits = slab_logits(
                reader.read(start, stop), wp.predictor,
                window=win, stride=step, num_classes=wp.channels, batch_size=batch,
                blend=options.blend, precision=options.precision, device=wp.device,
                channels_last=wp.device.type == 'cpu', preprocess=wp.preprocess)
            _write_slab(writers, mids, logits, k, options, axis, start)
            if bar is not None:
                bar.update(stop - start)
        written = {kind: w.close() for kind, w in writers.items()}
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    if 'preview' in paths:
        written['preview'] = mids.write(paths['preview'], arrays[0], norms[0],
                                        (card.palette or default_palette(k))[:k], card.classes)
    return Prediction(source=case.files[0], labels=written['labels'], written=written,
                      sliding_window=per_slice > 1, windows=per_slice * shape[axis])


def _bar(total: int, progress: bool):
    if not progress or total < 2:
        return None
    from mmengine.utils import ProgressBar
    return ProgressBar(total)


def _writers(paths: dict, case: VolumeCase, shape: tuple, axis: int, k: int,
             options: PredictOptions) -> dict[str, VolumeWriter]:
    like = case.files[0]
    writers = dict(labels=VolumeWriter(paths['labels'], like=like, shape=shape, axis=axis,
                                       dtype=np.uint8))
    try:
        if 'probs' in paths:
            writers['probs'] = VolumeWriter(
                paths['probs'], like=like, shape=shape, axis=axis, components=k,
                dtype=np.uint8 if options.probs_dtype == 'uint8' else np.float32)
        if 'uncertainty' in paths:
            writers['uncertainty'] = VolumeWriter(paths['uncertainty'], like=like, shape=shape,
                                                  axis=axis, dtype=np.float32)
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return writers


def _write_slab(writers: dict, mids: 'MidSlices', logits: torch.Tensor, k: int,
                options: PredictOptions, axis: int, start: int) -> None:
    """Decode (S, channels, H, W) logits slice by slice and hand the slab to the writers."""
    bands = [decode(0, s, None, k, probs='probs' in writers,
                    uncertainty=options.uncertainty) for s in logits]
    labels = np.moveaxis(torch.stack([b.labels for b in bands]).numpy().astype(np.uint8),
                         0, axis)
    writers['labels'].write(start, labels)
    mids.add(start, labels)
    if 'probs' in writers:
        p = torch.stack([b.probs for b in bands]).numpy()  # (S, K, H, W)
        if options.probs_dtype == 'uint8':
            p = np.rint(p * 255).astype(np.uint8)
        writers['probs'].write(start, np.moveaxis(np.moveaxis(p, 1, -1), 0, axis))
    if 'uncertainty' in writers:
        u = torch.stack([b.uncertainty for b in bands]).numpy().astype(np.float32)
        writers['uncertainty'].write(start, np.moveaxis(u, 0, axis))


class MidSlices:
    """The labels of the middle slice along each axis, gathered as slabs pass, for the
    preview (three 2-D arrays; nothing of the volume is kept)."""

    def __init__(self, shape: tuple, axis: int) -> None:
        self.shape, self.axis = shape, axis
        self.mid = [d // 2 for d in shape]
        self.labels = [np.zeros([d for i, d in enumerate(shape) if i != a], np.uint8)
                       for a in range(3)]

    def add(self, start: int, block: np.ndarray) -> None:
        stop = start + block.shape[self.axis]
        for a in range(3):
            if a == self.axis:
                if start <= self.mid[a] < stop:
                    self.labels[a][...] = np.take(block, self.mid[a] - start, axis=a)
                continue
            part = np.take(block, self.mid[a], axis=a)  # the slab's rows of that slice
            along = self.axis - (self.axis > a)
            index = [slice(None)] * 2
            index[along] = slice(start, stop)
            self.labels[a][tuple(index)] = part

    def write(self, path: Path, image, norm, palette, classes=None) -> Path:
        """The three middle slices side by side, labels blended over the image, the legend
        of the ``classes`` under them."""
        panels = []
        for a in range(3):
            grey = normalise(read_slice(image, a, self.mid[a]), norm)
            rgb = to_display_rgb(grey[None])
            panels.append(np.rot90(blend(rgb, colorize(self.labels[a], palette), 0.4)))
        height = max(p.shape[0] for p in panels)
        panels = [np.pad(p, ((0, height - p.shape[0]), (0, 4), (0, 0))) for p in panels]
        return write_png(path, with_legend(np.concatenate(panels, axis=1), classes, palette))
