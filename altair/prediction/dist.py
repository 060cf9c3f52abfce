"""Prediction in many processes: ``alt.predict(..., processes=N | gpus=N)``, torchrun, Slurm.

Several images are shared out round robin (``altair.inference.shard.shard``), each rank
writing its images' outputs as one process would. One image is split into row blocks
(``altair.inference.shard.row_blocks``): every rank predicts its block — replaying the grid
rows above it that reach into it, in the single-process batches — into block files, and rank
0 joins them into the outputs (COG or GeoTIFF) once all are done. The labels, probabilities
and uncertainty equal a single-process run's bit for bit when each process has as many
threads as that run (oneDNN's sums depend on the thread count in the last bits).

Ranks meet only at barriers (:class:`Group`). :func:`spawn` makes the calling process rank 0
and starts the other ranks as ``python -m altair.api.predict_worker``, so its own start-up
(imports, arguments checked) is not paid twice and it predicts while they start.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from rasterio.transform import Affine

from altair.engine.device import (close_distributed, detect_launcher, init_distributed,
                                  slurm_ranks)
from altair.engine.launch import WorkerFailedError, threads_per_worker, worker_failed
from altair.fileio import write_json
from altair.inference.grid import window_starts
from altair.inference.shard import batch_start, row_blocks
from altair.models.card import card_of
from altair.prediction.lock import OutputLock, OutputLockedError, lock_path
from altair.prediction.model import WindowPredictor
from altair.prediction.options import PredictOptionError, PredictOptions
from altair.prediction.outputs import write_overlay, write_scalar_png
from altair.prediction.pipeline import ImageJob, stream
from altair.prediction.result import Prediction
from altair.prediction.sinks import FanOut
from altair.prediction.writers import OVERVIEW_RESAMPLING, PredictionWriter, write_preview
from altair.raster.write import stack_rows

logger = logging.getLogger('altair')
WORKER = 'altair.api.predict_worker'  # started as a command, not imported


def worker_count(options: PredictOptions) -> int:
    """How many processes ``processes`` (CPU processes) / ``gpus`` (one per GPU) ask for.

    Raises:
        PredictOptionError: more GPUs than are visible.
    """
    processes, gpus = options.processes, options.gpus
    if gpus is not None:
        visible = torch.cuda.device_count()
        if gpus > visible:
            raise PredictOptionError(f'gpus={gpus} but {visible} GPU(s) are visible'
                                     + ('; processes=N predicts in N CPU processes'
                                        if not visible else ''))
        return gpus
    return processes or 1


class Group:
    """The ranks of one prediction, joined at their first barrier rather than at the start,
    so that a rank predicts while the others still start (imports, model); gloo for the
    barriers, on GPUs too (the data never crosses processes), with a day's timeout so that
    a rank that finishes early waits for a slow one. ``before_join`` runs first (the
    launcher of :func:`spawn` checks there that its workers are alive)."""

    def __init__(self, launcher: str, before_join=None) -> None:
        self.launcher, self.before_join, self._group = launcher, before_join, None

    def get(self):
        if self._group is None:
            ready = os.environ.get('ALTAIR_PREDICT_READY')
            if ready:  # tell the launcher this rank reached the barrier
                Path(ready, f'rank{os.environ["RANK"]}').touch()
            if self.before_join is not None:
                self.before_join()
            if not dist.is_initialized():
                init_distributed(self.launcher)
            self._group = dist.new_group(backend='gloo', timeout=timedelta(days=1))
        return self._group


_before_join = None  # set by :func:`spawn` while its rank 0 runs here


def process_group():
    """(rank, world size, local rank, :class:`Group`) of this process, from the environment
    of a job started by torchrun / accelerate / Slurm (or an existing process group); a lone
    process is (0, 1, 0, None)."""
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get('LOCAL_RANK', 0)), \
            Group('none', _before_join)
    launcher = detect_launcher()
    if launcher == 'none':
        return 0, 1, 0, None
    env = os.environ if launcher == 'pytorch' else slurm_ranks()
    return int(env['RANK']), int(env['WORLD_SIZE']), int(env.get('LOCAL_RANK', 0)), \
        Group(launcher, _before_join)


def barrier(group: Group) -> None:
    dist.barrier(group=group.get())


def total(value: int, group: Group) -> int:
    """``value`` summed over the ranks of ``group``."""
    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, group=group.get())
    return int(t.item())


def predict_blocks(model, src, job: ImageJob, options: PredictOptions, *, rank: int,
                   world: int, group) -> Prediction:
    """:func:`_predict_blocks` while rank 0 holds the outputs' lock
    (``altair.prediction.lock``): when another prediction writes them, every rank raises
    ``OutputLockedError`` before any block is written (rank 0's names the holder)."""
    lock = OutputLock(lock_path(job.out, job.stem), f"'{job.stem}_*'")
    refused = None
    if rank == 0:
        try:
            lock.acquire()
        except OutputLockedError as exc:
            refused = exc
    try:
        if total(int(refused is not None), group):
            raise refused or OutputLockedError(
                f"outputs '{job.stem}_*' in '{job.out}' are being written by another "
                'prediction (rank 0 names it)')
        return _predict_blocks(model, src, job, options, rank=rank, world=world, group=group)
    finally:
        if rank == 0:
            lock.release()


def _block_part(job: ImageJob, kind: str, index: int, blocks: int) -> Path:
    return job.out / f'.{job.stem}_{kind}.block{index}-of-{blocks}.tif'


def _predict_block(model, src, job: ImageJob, options: PredictOptions, block, part, *,
                   rank: int, world: int) -> dict:
    """Rank ``rank``'s row block into its block files, replaying the grid rows above it that
    reach into it, in the single-process batches; the engine's stats."""
    from mmengine.utils import ProgressBar
    _, height, width = src.shape
    win, step = job.window, job.stride
    rows, cols = window_starts(height, win[0], step[0]), window_starts(width, win[1], step[1])
    masked = bool(getattr(src, 'masked', False))

    def has_data(i: int) -> bool:
        y, x = rows[i // len(cols)], cols[i % len(cols)]
        return bool(src.read_valid(y, min(y + win[0], height), x, min(x + win[1], width)).any())
    first = batch_start(block.first_row * len(cols), job.batch_size,
                        has_data if masked else (lambda i: True))
    transform = getattr(src, 'transform', None)
    writer = PredictionWriter(
        part('labels'), height=block.rows, width=width, num_classes=model.out_channels,
        transform=transform @ Affine.translation(0, block.top) if transform else None,
        crs=getattr(src, 'crs', None), palette=card_of(model).palette, masked=masked,
        probs_path=part('probs') if 'probs' in job.save else None,
        probs_dtype=options.probs_dtype, uncertainty=options.uncertainty,
        uncertainty_path=part('uncertainty') if options.uncertainty else None,
        format='gtiff', finish=False)
    todo = (block.grid_rows[1] - block.first_row) * len(cols)
    bar = ProgressBar(todo) if options.progress and rank == 0 and todo > 1 else None
    logger.info(f'{job.stem}: rank {rank} of {world} predicts rows {block.top}-{block.stop} '
                f'of {height}')
    stats: dict = {}
    try:
        wp = WindowPredictor.build(model, options, src.shape[0], job.batch_size)
        stream(src, wp, job, options, FanOut([writer], model.out_channels, row_offset=block.top),
               progress=bar.update if bar else None, stats=stats, resume=(block.top, first),
               stop=block.stop)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    if bar:
        print()
    return stats


def _predict_blocks(model, src, job: ImageJob, options: PredictOptions, *, rank: int,
                    world: int, group) -> Prediction:
    """Rank ``rank`` of ``world``'s part of one image's sliding-window prediction: its row
    block into block files under ``job.out``; rank 0 then joins every block into the outputs
    (``<stem>_labels.tif``, ``_probs.tif``, ``_uncertainty.tif``; previews and the overlay
    from the joined labels). Every rank returns the same :class:`Prediction` (labels as the
    file's path)."""
    _, height, width = src.shape
    out, stem, palette = job.out, job.stem, card_of(model).palette
    blocks = row_blocks(height, job.window[0], job.stride[0], world)
    kinds = (['labels'] + ['probs'] * ('probs' in job.save)
             + ['uncertainty'] * bool(options.uncertainty))
    final = {kind: out / f'{stem}_{kind}.tif' for kind in kinds}
    stats = {}
    if rank < len(blocks):
        stats = _predict_block(
            model, src, job, options, blocks[rank],
            lambda kind: _block_part(job, kind, rank, len(blocks)), rank=rank, world=world)
    barrier(group)  # every block is on disk
    skipped = total(stats.get('skipped', 0), group)
    written = dict(final)
    if rank == 0:
        try:
            for kind, path in final.items():
                stack_rows([_block_part(job, kind, i, len(blocks)) for i in range(len(blocks))],
                           path, format=job.format, resampling=OVERVIEW_RESAMPLING[kind])
        finally:
            for kind in kinds:
                for i in range(len(blocks)):
                    _block_part(job, kind, i, len(blocks)).unlink(missing_ok=True)
        num_classes = model.out_channels
        if 'preview' in job.save:
            written['preview'] = write_preview(final['labels'], out / f'{stem}_preview.png',
                                               palette=palette, num_classes=num_classes)
        if 'overlay' in job.save:
            written['overlay'] = write_overlay(src, final['labels'], out / f'{stem}_overlay.png',
                                               palette=palette, num_classes=num_classes,
                                               classes=card_of(model).classes)
        if options.uncertainty is not None and job.save & {'overlay', 'preview'}:
            written['uncertainty_png'] = write_scalar_png(
                final['uncertainty'], out / f'{stem}_uncertainty.png', height=height,
                width=width)
        if skipped:
            logger.info(f'{stem}: {skipped} windows hold only nodata: skipped')
    barrier(group)  # the outputs are complete
    rows = window_starts(height, job.window[0], job.stride[0])
    cols = window_starts(width, job.window[1], job.stride[1])
    return Prediction(source=getattr(src, 'path', None), labels=final['labels'],
                      written=written, sliding_window=True,
                      windows=len(rows) * len(cols), skipped_windows=skipped)


def gather(predictions: list[Prediction], group, order: dict[str, int]) -> list[Prediction]:
    """Every rank's predictions on every rank, in input order (``order``: source → index;
    this rank's own as they are, the others' with their labels as files)."""
    mine = {str(p.written['labels']) for p in predictions}
    handle = group.get()  # joins the ranks first
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, [p.record() for p in predictions], group=handle)
    found = {str(p.written['labels']): p for p in predictions}
    for items in gathered:
        for r in items:
            if r['labels'] not in mine:
                found.setdefault(r['labels'], Prediction.from_record(r))
    return sorted(found.values(), key=lambda p: order.get(str(p.source), 0))


def spawn(n: int, spec: dict, tmp_dir: Path, run) -> list[Prediction]:
    """``run()`` — ``alt.predict(spec['model'], spec['images'], **spec['options'])`` here — as rank
    0 of ``n`` processes, ranks 1 .. n-1 started as ``python -m altair.api.predict_worker``
    (torchrun's environment; ``threads_per_worker`` threads each, this process too while it
    runs). A worker that fails — before the barrier, or in it — stops the others.

    Raises:
        WorkerFailedError: ``rank r of n failed (exit code c): <its error>``.
    """
    spec_path = tmp_dir / 'predict.json'
    write_json(spec_path, spec)
    ready = tmp_dir / 'ready'
    ready.mkdir()
    base = dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()), WORLD_SIZE=str(n),
                ALTAIR_PREDICT_READY=str(ready))
    threads = threads_per_worker(n)
    workers = [subprocess.Popen(
        [sys.executable, '-m', WORKER, str(spec_path), str(threads)],
        env=dict(os.environ, **base, RANK=str(r), LOCAL_RANK=str(r),
                 TORCHELASTIC_ERROR_FILE=str(tmp_dir / f'error{r}.json')))
        for r in range(1, n)]

    def failed() -> WorkerFailedError | None:
        for r, w in enumerate(workers, 1):
            code = w.poll()
            if code not in (None, 0):
                error = tmp_dir / f'error{r}.json'
                message = (json.loads(error.read_text()).get('message', {}) if error.is_file()
                           else f'exit code {code}')
                return worker_failed(r, n, code, message)
        return None

    def wait_for_workers() -> None:  # before this rank joins: are the others alive?
        while len(list(ready.iterdir())) < n:
            error = failed()
            if error is not None:
                raise error
            time.sleep(0.2)

    global _before_join
    saved = {k: os.environ.get(k) for k in (*base, 'RANK', 'LOCAL_RANK')}
    old_threads = torch.get_num_threads()
    os.environ.update(base, RANK='0', LOCAL_RANK='0')
    torch.set_num_threads(threads)
    _before_join = wait_for_workers
    try:
        found = run()
        for w in workers:
            w.wait()
        error = failed()
        if error is not None:
            raise error
        return found
    except Exception:
        error = failed()
        if error is not None:
            raise error from None
        raise
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        close_distributed()
        _before_join = None
        torch.set_num_threads(old_threads)
        restore_environ(saved)


def free_port() -> int:
    """A TCP port free on the loopback interface now, for the rendezvous."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def restore_environ(saved: dict[str, str | None]) -> None:
    """Put the environment variables of ``saved`` back (None: unset)."""
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
