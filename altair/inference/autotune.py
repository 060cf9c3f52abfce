"""Images per forward pass chosen by measurement: a short probe on first use, cached.

The best batch depends on the machine: on one AMD EPYC pairs of TTA views won, on an Intel
Xeon all 8 views in one call did (6.93x one forward against 8.81x in pairs). So the
sliding-window batch and the TTA views per call are not constants: :func:`tuned_batch` times
the model on a zero-filled input of the real window size for each candidate batch, keeps
the one with the fewest seconds per image (the smaller one when within ``TOLERANCE``: less
memory for no loss), and caches it per model, device, window, precision and memory format in
``$ALTAIR_CACHE/batch_probe.json`` (default ``~/.cache/altair``). An explicit batch size
always wins; ``ALTAIR_BATCH_PROBE=0`` turns the probe off (then ``fallback`` is used).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from altair.fileio import atomic_write, cache_dir
from altair.inference.precision import resolve_precision

CANDIDATES = (1, 2, 4, 8)
TOLERANCE = 0.05
CACHE_FILE = 'batch_probe.json'
_MEMO: dict[str, int] = {}  # this process's answers (the file is read once per key)


def pick_batch(seconds: dict[int, float], tolerance: float = TOLERANCE) -> int:
    """The batch whose time per image is lowest, or the smallest one within ``tolerance`` of it.

    ``seconds`` maps each batch size to the time of one call with that many images.
    """
    per_image = {b: t / b for b, t in seconds.items()}
    best = min(per_image.values())
    return min(b for b, t in per_image.items() if t <= best * (1 + tolerance))


def time_batches(run: Callable[[int], None], candidates: Sequence[int] = CANDIDATES, *,
                 reps: int = 2, clock: Callable[[], float] = time.perf_counter
                 ) -> dict[int, float]:
    """The fastest of ``reps`` timings of ``run(b)`` for each candidate ``b`` (the candidates
    in turn, ``reps`` rounds), after one warm-up call of the first."""
    run(candidates[0])
    out: dict[int, float] = {}
    for _ in range(reps):
        for b in candidates:
            t0 = clock()
            run(b)
            out[b] = min(out.get(b, float('inf')), clock() - t0)
    return out


def model_signature(model: torch.nn.Module) -> str:
    """Class name and a hash of the parameter names and shapes: equal for two models of one
    architecture whatever their weights (speed does not depend on the values). A model whose
    parameters do not describe it (an onnxruntime session behind a stub parameter) gives the
    signature of its card (``altair.models.card``)."""
    own = getattr(getattr(model, 'altair_card', None), 'signature', None)
    if own:
        return own
    h = hashlib.sha1(type(model).__name__.encode())
    for name, p in model.state_dict().items():
        h.update(f'{name}:{tuple(p.shape)}:{p.dtype};'.encode())
    return f'{type(model).__name__}-{h.hexdigest()[:12]}'


def cache_path() -> Path:
    return cache_dir() / CACHE_FILE


def probe_key(model: torch.nn.Module, *, shape: tuple[int, int, int], device, precision: str,
              channels_last: bool) -> str:
    """What a probed batch is valid for: model, input (C, h, w), device, precision, memory
    format, torch version, threads and the CPU."""
    device = torch.device(device)
    where = (torch.cuda.get_device_name(device) if device.type == 'cuda'
             else f'{platform.processor() or platform.machine()}:{_cpu_model()}'
                  f':{torch.get_num_threads()}threads')
    return '|'.join([model_signature(model), 'x'.join(map(str, shape)), device.type, where,
                     precision, 'channels_last' if channels_last else 'contiguous',
                     torch.__version__])


@functools.lru_cache(maxsize=1)
def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown'


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _store(path: Path, key: str, value: int) -> None:
    """Add ``key`` to the cache file (atomically; an unwritable cache is not an error)."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        data = dict(_load(path), **{key: value})
        with atomic_write(path, tag=f'partial-{os.getpid()}') as tmp:  # processes may race
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))


def tuned_batch(predictor: Callable[[Tensor], Tensor], model: torch.nn.Module, *,
                shape: tuple[int, int, int], device, precision: str = 'fp32',
                channels_last: bool = False, fallback: int = 4,
                candidates: Sequence[int] | None = None, probe: bool = True,
                log: Callable[[str], None] | None = None) -> int:
    """Images per ``predictor`` call for inputs of ``shape`` (C, h, w) on ``device``: cached,
    else probed now (a few forward passes: 31 images with the default CPU candidates).

    ``precision`` is the autocast the calls run under (``altair.inference.precision``);
    ``candidates`` default to :data:`CANDIDATES` (and 16 on CUDA); ``probe=False`` only reads
    the cache (``fallback`` when it has nothing); ``log`` receives one line when a probe runs.
    With ``ALTAIR_BATCH_PROBE=0``: ``fallback``.
    """
    if os.environ.get('ALTAIR_BATCH_PROBE', '1') == '0':
        return fallback
    path = cache_path()
    key = probe_key(model, shape=shape, device=device, precision=precision,
                    channels_last=channels_last)
    cached = _MEMO[key] if key in _MEMO else _load(path).get(key)
    if isinstance(cached, int) and cached >= 1:
        _MEMO[key] = cached
        return cached
    if not probe:
        return fallback
    device = torch.device(device)
    if candidates is None:
        candidates = CANDIDATES + ((16,) if device.type == 'cuda' else ())
    cast = resolve_precision(precision, device)
    x = torch.zeros(max(candidates), *shape, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def run(b: int) -> None:
        with torch.no_grad(), (torch.autocast(device.type, dtype=cast) if cast is not None
                               else contextlib.nullcontext()):
            predictor(x[:b])
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
    seconds = time_batches(run, candidates)
    batch = pick_batch(seconds)
    _store(path, key, batch)
    _MEMO[key] = batch
    if log is not None:
        log(f'batch probe ({device.type}, {precision}, {shape[1]}x{shape[2]}): '
            + ', '.join(f'{b}: {seconds[b] / b:.3f} s/image' for b in candidates)
            + f' -> {batch} per call (cached in {path})')
    return batch
