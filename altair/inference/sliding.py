"""Sliding-window inference in bounded memory: batched, blended, streamed.

The model enters only as ``predictor``, a callable mapping a batch of windows (B, C, h, w)
to logits (B, K, h, w), so everything here is testable without a model.

Memory: windows are read from ``source`` one batch at a time and the weighted logits are
accumulated in a band of rows that slides down the image. When the last window of a grid row
has been added, every row above the next grid row's top can receive nothing more: those rows
are normalised and handed to ``sink`` and dropped. Peak memory is therefore about
``K x (window_h + stride_h) x W`` floats plus one batch of windows — independent of the image
height. With no ``sink`` the bands are collected and the full (K, H, W) logits returned.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, Protocol

import torch
from torch import Tensor

from altair.inference.blend import blend_weights
from altair.inference.grid import WindowArgumentError, resolve_window, window_starts
from altair.inference.nodata import fill_invalid, invalid_pixels
from altair.inference.precision import resolve_precision

PAD_MODES = ('reflect', 'constant')


class ImageSource(Protocol):
    """What the engine reads windows from (see ``altair.inference.sources``)."""

    shape: tuple[int, int, int]  # (C, H, W)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        """(C, y1 - y0, x1 - x0) float32 tensor of the region."""


class TensorSource:
    """An in-memory (C, H, W) tensor as an :class:`ImageSource`.

    With ``nodata`` (or a floating tensor, where NaN is nodata) :attr:`masked` is True and
    :meth:`read_valid` tells where the data is; :meth:`read` then sets nodata pixels to
    ``fill`` (one value per band or one for all; without a fill only NaN is replaced, by 0).
    """

    def __init__(self, image: Tensor, *, nodata: float | None = None, fill=None) -> None:
        if image.ndim != 3:
            raise ValueError(f'image must be (C, H, W), got shape {tuple(image.shape)}')
        self.image = image
        self.shape = tuple(image.shape)
        self.nodata, self.fill = nodata, fill
        self.masked = nodata is not None or bool(
            image.is_floating_point() and torch.isnan(image).any())

    def _bad(self, y0: int, y1: int, x0: int, x1: int):
        return invalid_pixels(self.image[:, y0:y1, x0:x1].cpu().numpy(), self.nodata)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        region = self.image[:, y0:y1, x0:x1].float()
        if not self.masked:
            return region
        data = fill_invalid(region.cpu().numpy().copy(), self._bad(y0, y1, x0, x1), self.fill)
        return torch.from_numpy(data).to(region.device)

    def read_valid(self, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        """(y1 - y0, x1 - x0) bool: True where the region has data."""
        return torch.from_numpy(~self._bad(y0, y1, x0, x1))

    def thumbnail(self, step: int):
        """(C, ceil(H / step), ceil(W / step)) NumPy array of every ``step``-th pixel."""
        return self.image[:, ::step, ::step].cpu().numpy()

    def close(self) -> None:
        """Nothing to release (a file source closes its dataset)."""

    def __enter__(self) -> 'TensorSource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
        window: window size (h, w) or one int.
        num_classes: K.
        overlap: fraction in [0, 1) shared by neighbouring windows (default 0.25).
        stride: explicit step instead of ``overlap``, each in [1, window].
        batch_size: windows per predictor call, >= 1.
        blend: ``'gaussian'`` (default), ``'linear'`` or ``'constant'``.
        sigma_scale: gaussian sigma as a fraction of the window.
        pad_mode: how an image smaller than the window is padded: ``'reflect'`` or
            ``'constant'`` (``pad_value``); the output is cropped back.
        device: where windows are computed (default: where ``source`` tensor lives, else CPU).
        accumulate_device: where logits are stitched (float32), e.g. CPU for GPU windows.
        precision: ``'fp32'``, ``'bf16'``, ``'fp16'`` or ``'auto'`` (autocast around the predictor).
        channels_last: feed windows in channels-last memory format (faster convs on CPUs).
        preprocess: applied to each batch on ``device`` before the predictor (e.g. normalise).
        sink: called as ``sink(row0, logits, valid)`` with each finalised band (K, rows, W)
            in order and, with ``valid``, its (rows, W) bool data mask (else ``None``); both
            are views into the accumulators, valid only during the call (copy them to keep
            them). With a sink nothing is kept and ``None`` is returned.
        progress: called with the number of windows done (skipped ones included) after
            every batch.
        valid: ``valid(y0, y1, x0, x1)`` → (y1 - y0, x1 - x0) bool tensor, True where the
            input has data (e.g. ``RasterSource.read_valid``). A window without one such
            pixel is skipped: not read, not predicted, no weight in the blend. Its pixels
            (zero weight) come out with arbitrary logits and False in the mask.
        stats: a dict that receives ``windows`` (the grid's count) and ``skipped``: the
            windows skipped from the grid row at ``resume``'s row to ``stop``'s (replayed
            ones, and those of the next block that fill the last batch, not counted).
        checkpoint: called as ``checkpoint(rows_done, window, band)`` at the end of the
            first batch after each band reached the sink: ``band`` holds the partial sums
            of the rows from ``rows_done`` on (``acc`` (K, h, W), ``wsum`` (h, W), ``valid``
            (h, W) or None; views, valid during the call). A run stopped after it continues
            exactly with ``resume=(rows_done, window, band)``.
        resume: ``(rows_done, window, band)`` of a checkpoint: rows above ``rows_done`` are
            not emitted again and the windows from ``window`` on add to ``band``'s sums, so
            every later band equals the uninterrupted run's bit for bit. Without ``band``,
            ``(rows_done, window)`` replays: ``window`` must start one of the whole run's
            batches (``altair.inference.shard.batch_start``) at or before the first window
            reaching below ``rows_done``; the windows from it on rebuild the sums.
        stop: end once the rows above ``stop`` (a grid row's top, or the height) were
            emitted; the batch holding the last window they need is still run whole, so
            with ``resume`` a block of rows equals the same rows of a whole run bit for
            bit (``altair.inference.shard.row_blocks`` plans such blocks).

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
    cast = resolve_precision(precision, device)
    _, height, width = source.shape
    weights = blend_weights(win, blend, sigma_scale=sigma_scale).to(acc_device)

    rows = window_starts(height, win[0], step[0])
    cols = window_starts(width, win[1], step[1])
    windows = [(r, y, x) for r, y in enumerate(rows) for x in cols]
    # The accumulators hold image rows [top, top + cap). A window of grid row r spans
    # [rows[r], rows[r] + window_h) and ``top == rows[r]`` by then (rows above were emitted),
    # so ``cap = window_h`` rows always suffice.
    cap = min(win[0], height)
    top, first_window = resume[:2] if resume is not None else (0, 0)
    if not (0 <= top <= height and 0 <= first_window <= len(windows)):
        raise ValueError(f'resume point {resume} is outside the {height}-row image and its '
                         f'{len(windows)} windows')
    stop = height if stop is None else stop
    if stop not in (*rows[1:], height) or stop <= top:
        raise ValueError(f'stop row {stop} is not a grid row top below row {top} '
                         f'(grid rows start at {rows[:4]}...) nor the height {height}')
    # windows of grid rows above the resume row are replays: not counted in ``stats``
    first_owned = next((r for r, y in enumerate(rows) if y >= top), len(rows)) * len(cols)
    # the last window whose rows reach the output: its grid row ends where ``stop`` starts
    last_window = next((r + 1) * len(cols) - 1 for r in range(len(rows))
                       if r + 1 == len(rows) or rows[r + 1] >= stop)
    acc = torch.zeros(num_classes, cap, width, dtype=torch.float32, device=acc_device)
    wsum = torch.zeros(cap, width, dtype=torch.float32, device=acc_device)
    # where the input has data (only with ``valid``): a pixel no window with data covers
    # has zero weight and comes out as nodata
    vacc = (torch.zeros(cap, width, dtype=torch.bool, device=acc_device)
            if valid is not None else None)
    if resume is not None and len(resume) > 2:  # the partial sums a checkpoint handed over
        band = resume[2]
        for name, buf in (('acc', acc), ('wsum', wsum), ('valid', vacc)):
            saved = band.get(name)
            if (saved is None) != (buf is None) or \
                    saved is not None and tuple(saved.shape) != tuple(buf.shape):
                raise ValueError(f"resume band '{name}' is "
                                 f'{None if saved is None else tuple(saved.shape)}, expected '
                                 f'{None if buf is None else tuple(buf.shape)}')
            if buf is not None:
                buf.copy_(torch.as_tensor(saved))
    skipped = 0
    emitted = False  # since the last checkpoint
    bands: list[Tensor] = []
    masks: list[Tensor] = []

    def emit(upto: int) -> None:
        nonlocal top, emitted
        n = upto - top
        if n <= 0:
            return
        # normalised in place and handed over as a view: no band-sized copy
        if vacc is not None:
            wsum[:n].clamp_min_(torch.finfo(torch.float32).tiny)
        band = acc[:, :n].div_(wsum[:n])
        ok = vacc[:n] if vacc is not None else None
        if sink is None:
            bands.append(band.clone())
            if ok is not None:
                masks.append(ok.clone())
        else:
            sink(top, band, ok)
        _shift_up(acc, n, dim=1)
        _shift_up(wsum, n, dim=0)
        if vacc is not None:
            _shift_up(vacc, n, dim=0)
        top = upto
        emitted = True

    autocast = (torch.autocast(device_type=device.type, dtype=cast) if cast is not None
                else nullcontext())

    def region(y: int, x: int) -> tuple[int, int, int, int]:
        return y, min(y + win[0], height), x, min(x + win[1], width)

    def run(pending: list) -> None:
        """Forward the windows of ``pending`` that hold data, then add every window of it in
        grid order (emitting finished rows as each grid row ends)."""
        todo = [(y, x) for _, y, x, mask in pending if mask is not False]
        if todo:
            crops = [pad_to(source.read(*region(y, x)), win, mode=pad_mode, value=pad_value)
                     for y, x in todo]
            inputs = torch.stack(crops).to(device)
            if preprocess is not None:
                inputs = preprocess(inputs)
            if channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            with torch.no_grad(), autocast:
                logits = predictor(inputs)
            if logits.shape[0] != len(todo) or logits.shape[1] != num_classes or \
                    tuple(logits.shape[2:]) != win:
                raise ValueError(f'predictor returned {tuple(logits.shape)} for {len(todo)} '
                                 f'windows of {win}; expected ({len(todo)}, {num_classes}, '
                                 f'{win[0]}, {win[1]})')
            outputs = iter(logits.to(acc_device, torch.float32))
        for r, y, x, mask in pending:
            if top >= stop:  # the rest of the last batch belongs to the next block
                break
            if mask is not False:
                lg = next(outputs)
                # rows above ``top`` were emitted (or, resuming, written before): skipped
                y0, y1, w = max(y, top), min(y + win[0], height), min(win[1], width - x)
                if y1 > y0:
                    wt = weights[y0 - y:y1 - y, :w]
                    acc[:, y0 - top:y1 - top, x:x + w].addcmul_(lg[:, y0 - y:y1 - y, :w], wt)
                    wsum[y0 - top:y1 - top, x:x + w] += wt
                    if vacc is not None:
                        vacc[y0 - top:y1 - top, x:x + w] |= mask[y0 - y:].to(acc_device)
            if x == cols[-1]:  # last window of grid row r: rows above the next row are final
                emit(rows[r + 1] if r + 1 < len(rows) else height)
        if progress is not None:
            progress(len(pending))

    pending: list = []
    queued = 0
    for i in range(first_window, len(windows)):
        r, y, x = windows[i]
        mask = None
        if valid is not None:
            mask = valid(*region(y, x))
            if not bool(mask.any()):
                mask = False  # nodata only: no read, no forward pass, no weight
                skipped += first_owned <= i <= last_window
        pending.append((r, y, x, mask))
        queued += mask is not False
        if queued == batch_size:
            run(pending)
            pending, queued = [], 0
            if i >= last_window:
                break
            if checkpoint is not None and emitted and top < height:
                # a batch boundary: a resume from window i + 1 forms the same batches
                checkpoint(top, i + 1, dict(acc=acc, wsum=wsum, valid=vacc))
                emitted = False
    if pending:
        run(pending)
    if stats is not None:
        stats.update(windows=len(windows), skipped=skipped)
    if sink is None:
        return (torch.cat(bands, 1), torch.cat(masks, 0)) if valid is not None \
            else torch.cat(bands, 1)
    return None
