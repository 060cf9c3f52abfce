"""Sliding-window inference in bounded memory: batched, blended, streamed.

The model enters only as ``predictor``, a callable mapping a batch of windows (B, C, h, w)
to logits (B, K, h, w), so everything here is testable without a model. As MONAI's
inferers do, the work is split in two: a :class:`WindowSplitter` plans the grid and hands
out batches of windows (skipping those without data), and a :class:`RowMerger` blends each
window's logits into its rows (``aggregate``) and hands rows on when no later window can
reach them (``finalize``).

Memory: windows are read from ``source`` one batch at a time and the weighted logits are
accumulated in a band of rows that slides down the image. When the last window of a grid row
has been added, every row above the next grid row's top can receive nothing more: those rows
are normalised and handed to ``sink`` and dropped. Peak memory is therefore about
``K x (window_h + stride_h) x W`` floats plus one batch of windows — independent of the image
height. With no ``sink`` the bands are collected and the full (K, H, W) logits returned.

Streaming in parts and resuming (the arguments of :func:`sliding_window_inference`):

- ``checkpoint(rows_done, window, band)`` is called at the end of the first batch after each
  band reached the sink: ``band`` holds the partial sums of the rows from ``rows_done`` on
  (``acc`` (K, h, W), ``wsum`` (h, W), ``valid`` (h, W) or None; views, valid during the
  call). A run stopped after it continues exactly with ``resume=(rows_done, window, band)``.
- ``resume=(rows_done, window, band)``: rows above ``rows_done`` are not emitted again and
  the windows from ``window`` on add to ``band``'s sums, so every later band equals the
  uninterrupted run's bit for bit. Without ``band``, ``(rows_done, window)`` replays:
  ``window`` must start one of the whole run's batches (``altair.inference.shard.batch_start``)
  at or before the first window reaching below ``rows_done``; the windows from it on rebuild
  the sums.
- ``stop``: end once the rows above ``stop`` (a grid row's top, or the height) were emitted;
  the batch holding the last window they need is still run whole, so with ``resume`` a block
  of rows equals the same rows of a whole run bit for bit (``altair.inference.shard.row_blocks``
  plans such blocks).
- ``stats`` receives ``windows`` (the grid's count) and ``skipped``: the windows skipped from
  the grid row at ``resume``'s row to ``stop``'s (replayed ones, and those of the next block
  that fill the last batch, not counted).
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable

import torch
from torch import Tensor

from altair.inference.blend import blend_weights
from altair.inference.grid import WindowArgumentError, resolve_window, window_starts
from altair.inference.precision import resolve_precision
from altair.raster.sources import ImageSource, TensorSource

PAD_MODES = ('reflect', 'constant')


def pad_to(region: Tensor, size: tuple[int, int], *, mode: str = 'reflect',
           value: float = 0.0) -> Tensor:
    """Pad (C, h, w) at the bottom/right to ``size`` (reflect, repeated as often as needed, or
    constant). A side of length 1 is replicated, the only reflection it has."""
    if mode not in PAD_MODES:
        raise WindowArgumentError(f"pad_mode must be one of {', '.join(PAD_MODES)}, got '{mode}'")
    pad_h, pad_w = size[0] - region.shape[1], size[1] - region.shape[2]
    if pad_h <= 0 and pad_w <= 0:
        return region
    if mode == 'constant':
        return torch.nn.functional.pad(region, (0, max(pad_w, 0), 0, max(pad_h, 0)), value=value)
    out = region
    while out.shape[1] < size[0] or out.shape[2] < size[1]:
        ph = min(size[0] - out.shape[1], max(out.shape[1] - 1, 0))
        pw = min(size[1] - out.shape[2], max(out.shape[2] - 1, 0))
        if ph == 0 and out.shape[1] < size[0]:  # height 1: replicate
            out = out.expand(-1, size[0], -1)
        if pw == 0 and out.shape[2] < size[1]:  # width 1: replicate
            out = out.expand(-1, -1, size[1])
        if ph > 0 or pw > 0:
            out = torch.nn.functional.pad(out[None], (0, pw, 0, ph), mode='reflect')[0]
    return out.contiguous()


def _shift_up(buf: Tensor, n: int, *, dim: int) -> None:
    """Move ``buf``'s slices [n:] to [0:] along ``dim`` in place and zero the freed tail.

    Copied in chunks of at most ``n`` rows, front to back, so no chunk overlaps its source.
    """
    size = buf.shape[dim]
    for start in range(0, size - n, n):
        stop = min(start + n, size - n)
        buf.narrow(dim, start, stop - start).copy_(buf.narrow(dim, start + n, stop - start))
    buf.narrow(dim, max(size - n, 0), min(n, size)).zero_()


def sliding_window_inference(
        source: ImageSource | Tensor, predictor: Callable[[Tensor], Tensor], *,
        window: int | tuple[int, int], num_classes: int, overlap: float | None = None,
        stride: int | tuple[int, int] | None = None, batch_size: int = 4,
        blend: str = 'gaussian', sigma_scale: float = 0.125, pad_mode: str = 'reflect',
        pad_value: float = 0.0, device: torch.device | str | None = None,
        accumulate_device: torch.device | str = 'cpu', precision: str = 'fp32',
        channels_last: bool = False, preprocess: Callable[[Tensor], Tensor] | None = None,
        sink: Callable[[int, Tensor, Tensor | None], None] | None = None,
        progress: Callable[[int], None] | None = None,
        valid: Callable[[int, int, int, int], Tensor] | None = None,
        stats: dict | None = None, resume: tuple | None = None,
        checkpoint: Callable[[int, int, dict], None] | None = None, stop: int | None = None
        ) -> Tensor | tuple[Tensor, Tensor] | None:
    """Blended sliding-window logits of an image, in memory or streamed band by band.

    Args:
        source: (C, H, W) tensor or an :class:`ImageSource` (e.g. a GeoTIFF read by windows).
        predictor: (B, C, h, w) → (B, K, h, w) logits.
        window, overlap, stride: the window (h, w) or one int; the fraction in [0, 1)
            neighbours share (default 0.25), or an explicit step, each in [1, window].
        num_classes: K. batch_size: windows per predictor call, >= 1.
        blend, sigma_scale: ``'gaussian'`` (sigma: a share of the window), linear, constant.
        pad_mode, pad_value: ``'reflect'`` or ``'constant'`` padding of an image smaller
            than the window (the output is cropped back).
        device, accumulate_device: where windows are computed (default: the ``source``
            tensor's device, else CPU) and where logits are stitched (float32).
        precision: autocast around the predictor: ``'fp32'``, ``'bf16'``, ``'fp16'``, ``'auto'``.
        channels_last, preprocess: the windows' memory format, and a function applied to
            each batch on ``device`` before the predictor (e.g. normalise).
        sink: ``sink(row0, logits, valid)`` per finalised band (K, rows, W), in order, with
            its (rows, W) data mask or None (views, valid during the call); nothing is kept.
        progress: called with the number of windows done (skipped ones included) per batch.
        valid: ``valid(y0, y1, x0, x1)`` → bool data mask: a window without data is skipped
            (not read, not predicted, no weight); its pixels come out False in the mask.
        stats: receives ``windows`` (the grid's count) and ``skipped`` (this run's).
        checkpoint, resume, stop: parts and bit-for-bit resumes (see the module docstring):
            ``checkpoint(rows_done, window, band)`` after a band reached the sink;
            ``resume=(rows_done, window[, band])`` continues; ``stop``: a grid row's top.

    Returns:
        Without a ``sink``: (K, H, W) float32 logits on ``accumulate_device``, and with
        ``valid`` also the (H, W) data mask as a pair. With a sink ``None``.

    Raises:
        WindowArgumentError: bad window / overlap / stride / batch size / pad mode.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise WindowArgumentError(f'batch_size must be an int >= 1, got {batch_size!r}')
    if isinstance(source, Tensor):
        device = source.device if device is None else device
        source = TensorSource(source)
    device = torch.device('cpu' if device is None else device)
    acc_device = torch.device(accumulate_device)
    win, step = resolve_window(window, overlap=overlap, stride=stride)
    _, height, width = source.shape
    grid = WindowSplitter(height, width, win, step, resume=resume, stop=stop)
    merger = RowMerger(num_classes, height, width,
                       blend_weights(win, blend, sigma_scale=sigma_scale).to(acc_device),
                       masked=valid is not None, top=grid.top, sink=sink)
    if resume is not None and len(resume) > 2:  # the partial sums a checkpoint handed over
        merger.load(resume[2])
    forward = BatchForward(source, predictor, grid, num_classes=num_classes, device=device,
                           acc_device=acc_device, cast=resolve_precision(precision, device),
                           pad=dict(mode=pad_mode, value=pad_value), preprocess=preprocess,
                           channels_last=channels_last)
    for pending, last, full in grid.batches(batch_size, valid):
        todo = [(y, x) for _, y, x, mask in pending if mask is not False]
        merger.add_batch(pending, iter(forward(todo)) if todo else iter(()), grid)
        if progress is not None:
            progress(len(pending))
        if not full or last >= grid.last_window:
            break
        if checkpoint is not None and merger.emitted and merger.top < height:
            # a batch boundary: a resume from window last + 1 forms the same batches
            checkpoint(merger.top, last + 1, merger.state())
            merger.emitted = False
    if stats is not None:
        stats.update(windows=len(grid.windows), skipped=grid.skipped)
    return merger.result() if sink is None else None


class BatchForward:
    """Read, pad, preprocess and predict a list of windows of ``grid``: called with their
    ``[(y, x), ...]``, returns (n, K, h, w) float32 logits on ``acc_device``."""

    def __init__(self, source: ImageSource, predictor: Callable[[Tensor], Tensor],
                 grid: WindowSplitter, *, num_classes: int, device: torch.device,
                 acc_device: torch.device, cast: torch.dtype | None, pad: dict,
                 preprocess: Callable[[Tensor], Tensor] | None, channels_last: bool) -> None:
        self.source, self.predictor, self.grid = source, predictor, grid
        self.num_classes, self.device, self.acc_device = num_classes, device, acc_device
        self.cast, self.pad = cast, pad
        self.preprocess, self.channels_last = preprocess, channels_last

    def __call__(self, todo: list[tuple[int, int]]) -> Tensor:
        win = self.grid.win
        inputs = torch.stack([pad_to(self.source.read(*self.grid.region(y, x)), win, **self.pad)
                              for y, x in todo]).to(self.device)
        if self.preprocess is not None:
            inputs = self.preprocess(inputs)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        autocast = (torch.autocast(device_type=self.device.type, dtype=self.cast)
                    if self.cast is not None else nullcontext())
        with torch.no_grad(), autocast:
            logits = self.predictor(inputs)
        expected = (len(todo), self.num_classes, *win)
        if tuple(logits.shape) != expected:
            raise ValueError(f'predictor returned {tuple(logits.shape)} for {len(todo)} '
                             f'windows of {win}; expected {expected}')
        return logits.to(self.acc_device, torch.float32)


class WindowSplitter:
    """The grid of windows over a ``height`` x ``width`` image and the batches they run in.

    ``resume`` (``(rows_done, window[, band])``) starts at window ``window`` with rows above
    ``rows_done`` already out; ``stop`` ends once the rows above it are out (see
    :func:`sliding_window_inference`).

    Attributes:
        rows, cols: the grid's window tops and lefts.
        windows: (grid row, y, x) of every window, in order.
        top, first_window, stop: the rows and windows this run covers.
        last_window: the last window whose rows reach the output.
        skipped: windows without data skipped so far (of those this run owns).
    """

    def __init__(self, height: int, width: int, win: tuple[int, int], step: tuple[int, int],
                 *, resume: tuple | None = None, stop: int | None = None) -> None:
        self.height, self.width, self.win = height, width, win
        self.rows = window_starts(height, win[0], step[0])
        self.cols = window_starts(width, win[1], step[1])
        self.windows = [(r, y, x) for r, y in enumerate(self.rows) for x in self.cols]
        self.top, self.first_window = resume[:2] if resume is not None else (0, 0)
        if not (0 <= self.top <= height and 0 <= self.first_window <= len(self.windows)):
            raise ValueError(f'resume point {resume} is outside the {height}-row image and its '
                             f'{len(self.windows)} windows')
        self.stop = height if stop is None else stop
        if self.stop not in (*self.rows[1:], height) or self.stop <= self.top:
            raise ValueError(f'stop row {self.stop} is not a grid row top below row {self.top} '
                             f'(grid rows start at {self.rows[:4]}...) nor the height {height}')
        # windows of grid rows above the resume row are replays: not counted as skipped
        n_cols = len(self.cols)
        self.first_owned = next((r for r, y in enumerate(self.rows) if y >= self.top),
                                len(self.rows)) * n_cols
        # the last window whose rows reach the output: its grid row ends where ``stop`` starts
        self.last_window = next((r + 1) * n_cols - 1 for r in range(len(self.rows))
                                if r + 1 == len(self.rows) or self.rows[r + 1] >= self.stop)
        self.skipped = 0

    def region(self, y: int, x: int) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) of the window at (y, x), cut to the image."""
        return y, min(y + self.win[0], self.height), x, min(x + self.win[1], self.width)

    def row_end(self, r: int) -> int:
        """The rows that are final once grid row ``r`` is added: above the next grid row."""
        return self.rows[r + 1] if r + 1 < len(self.rows) else self.height

    def batches(self, batch_size: int, valid=None):
        """Yield (windows ``(r, y, x, mask)``, index of the last, whether ``batch_size`` of
        them hold data) from ``first_window`` on. With ``valid``, a window without one valid
        pixel has mask False: it is neither read nor forwarded, and costs no batch place."""
        pending: list = []
        queued = 0
        for i in range(self.first_window, len(self.windows)):
            r, y, x = self.windows[i]
            mask = None
            if valid is not None:
                mask = valid(*self.region(y, x))
                if not bool(mask.any()):
                    mask = False
                    self.skipped += self.first_owned <= i <= self.last_window
            pending.append((r, y, x, mask))
            queued += mask is not False
            if queued == batch_size:
                yield pending, i, True
                pending, queued = [], 0
        if pending:
            yield pending, len(self.windows) - 1, False


class RowMerger:
    """Blend window logits into the rows ``[top, top + cap)`` of a ``height`` x ``width`` image:
    :meth:`aggregate` adds one window weighted by ``weights``, :meth:`finalize` normalises the
    rows above a row no later window reaches, hands them to ``sink`` (or keeps them for
    :meth:`result`) and slides the band down. ``cap`` = the window height suffices: a window
    of grid row r is added once the rows above ``rows[r]`` are out.

    With ``masked``, a (cap, width) bool band records where a window with data covered; a
    pixel no such window covers has zero weight and comes out as nodata.
    """

    def __init__(self, num_classes: int, height: int, width: int, weights: Tensor, *,
                 masked: bool, top: int = 0, sink=None) -> None:
        device = weights.device
        self.height = height
        cap = min(weights.shape[0], height)
        self.acc = torch.zeros(num_classes, cap, width, dtype=torch.float32, device=device)
        self.wsum = torch.zeros(cap, width, dtype=torch.float32, device=device)
        self.vacc = torch.zeros(cap, width, dtype=torch.bool, device=device) if masked else None
        self.weights, self.top, self.sink = weights, top, sink
        self.emitted = False  # rows were finalised since the last checkpoint
        self._bands: list[Tensor] = []
        self._masks: list[Tensor] = []

    def load(self, band: dict) -> None:
        """Continue from a checkpoint's partial sums (``acc``, ``wsum``, ``valid``)."""
        for name, buf in (('acc', self.acc), ('wsum', self.wsum), ('valid', self.vacc)):
            saved = band.get(name)
            if (saved is None) != (buf is None) or \
                    saved is not None and tuple(saved.shape) != tuple(buf.shape):
                raise ValueError(f"resume band '{name}' is "
                                 f'{None if saved is None else tuple(saved.shape)}, expected '
                                 f'{None if buf is None else tuple(buf.shape)}')
            if buf is not None:
                buf.copy_(torch.as_tensor(saved))

    def state(self) -> dict:
        """The partial sums of the rows from ``top`` on (views, valid until the next call)."""
        return dict(acc=self.acc, wsum=self.wsum, valid=self.vacc)

    def aggregate(self, logits: Tensor, y: int, x: int, mask: Tensor | None) -> None:
        """Add one window's (K, h, w) ``logits`` at (y, x); rows above ``top`` (finalised, or
        written before a resume) are left out."""
        win_h, win_w = self.weights.shape
        y0, y1 = max(y, self.top), min(y + win_h, self.height)
        w = min(win_w, self.acc.shape[2] - x)
        if y1 <= y0:
            return
        wt = self.weights[y0 - y:y1 - y, :w]
        self.acc[:, y0 - self.top:y1 - self.top, x:x + w].addcmul_(
            logits[:, y0 - y:y1 - y, :w], wt)
        self.wsum[y0 - self.top:y1 - self.top, x:x + w] += wt
        if self.vacc is not None:
            self.vacc[y0 - self.top:y1 - self.top, x:x + w] |= mask[y0 - y:].to(
                self.vacc.device)

    def add_batch(self, pending: list, outputs, grid: WindowSplitter) -> None:
        """Add a batch's windows ``(r, y, x, mask)`` in grid order, taking the logits of
        those with data from ``outputs``, and finalise the rows above the next grid row as
        each grid row ends. Windows past ``grid.stop`` (the next block's) are left out."""
        for r, y, x, mask in pending:
            if self.top >= grid.stop:
                break
            if mask is not False:
                self.aggregate(next(outputs), y, x, mask)
            if x == grid.cols[-1]:
                self.finalize(grid.row_end(r))

    def finalize(self, upto: int) -> None:
        """Hand on the rows ``[top, upto)``: normalised in place and passed as a view (no
        band-sized copy) to ``sink(top, band, valid)``."""
        n = upto - self.top
        if n <= 0:
            return
        if self.vacc is not None:
            self.wsum[:n].clamp_min_(torch.finfo(torch.float32).tiny)
        band = self.acc[:, :n].div_(self.wsum[:n])
        ok = self.vacc[:n] if self.vacc is not None else None
        if self.sink is None:
            self._bands.append(band.clone())
            if ok is not None:
                self._masks.append(ok.clone())
        else:
            self.sink(self.top, band, ok)
        _shift_up(self.acc, n, dim=1)
        _shift_up(self.wsum, n, dim=0)
        if self.vacc is not None:
            _shift_up(self.vacc, n, dim=0)
        self.top = upto
        self.emitted = True

    def result(self) -> Tensor | tuple[Tensor, Tensor]:
        """The finalised rows: (K, H, W) logits, with the (H, W) data mask when masked."""
        logits = torch.cat(self._bands, 1)
        return (logits, torch.cat(self._masks, 0)) if self.vacc is not None else logits
