"""Hooks: a run's metrics for the run store, and crash-safe checkpoints."""
from __future__ import annotations

import copy
import json
import os
import shutil
from functools import partial
from pathlib import Path

from mmengine.dist import barrier, is_main_process, master_only
from mmengine.hooks import CheckpointHook, EMAHook, Hook

from altair.errors import AltairError
from altair.fileio import commit, discard, partial_path, write_json, write_text
from altair.registry import HOOKS


@HOOKS.register_module()
class RunMetricsHook(Hook):
    """Append every validation's metrics to a run's ``metrics.json`` (rank 0 only).

    Each entry holds ``iter`` and ``epoch`` (training progress when validation ran) and every
    metric the evaluator returned, per-class ``IoU.<class>`` included. The file is rewritten
    atomically, so a reader never sees half an entry. A resumed run keeps earlier entries and
    replaces any at the same or a later iteration (they were logged after the checkpoint it
    resumes from).

    Args:
        path: the run's ``metrics.json``.
    """

    priority = 'LOW'

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    @master_only
    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        if not metrics:
            return
        entries = json.loads(self.path.read_text()) if self.path.is_file() else []
        entries = [e for e in entries if e.get('iter', -1) < runner.iter]
        entries.append(dict(iter=runner.iter, epoch=runner.epoch,
                            **{k: _number(v) for k, v in metrics.items()}))
        write_json(self.path, entries)


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


class _DeferRemoval:
    """A file backend whose ``remove``/``rmtree`` only record the path (done after saving)."""

    def __init__(self, backend, removed: list) -> None:
        self.backend, self._removed = backend, removed

    def remove(self, path) -> None:
        self._removed.append(path)

    rmtree = remove

    def __getattr__(self, name):
        return getattr(self.backend, name)


def _save_under_temp(save, out_dir: str, filename: str, *args, **kwargs) -> str:
    """``save(out_dir, <temporary name of filename>, ...)``; a half-written file is removed if
    it fails. Returns the temporary path, for the caller to rename."""
    tmp = os.path.join(out_dir, partial_path(Path(filename)).name)
    try:
        save(out_dir, os.path.basename(tmp), *args, **kwargs)
    except BaseException:
        discard(tmp)
        raise
    return tmp


def _best_atomically(save, out_dir, filename, *args, **kwargs) -> None:
    """``runner.save_checkpoint`` for ``best_*`` files: a temporary name, then a rename."""
    if not filename.startswith('best_') or not is_main_process():
        return save(out_dir, filename, *args, **kwargs)
    commit(_save_under_temp(save, out_dir, filename, *args, **kwargs),
           os.path.join(out_dir, filename), fsync=True)


class CheckpointWriteError(AltairError, OSError):
    """A checkpoint could not be written (full disk, removed folder); nothing was replaced."""


@HOOKS.register_module()
class AltairCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with an order that survives a crash at any moment.

    mmengine 0.10.7 deletes the oldest kept checkpoint *before* writing the new one, and
    writes the new one under its final name: with ``max_keep_ckpts=1`` a process killed while
    saving leaves no complete checkpoint and ``last_checkpoint`` pointing at a deleted file
    (seen in the killed-rank test). Here the new checkpoint is written under a temporary name
    and renamed, ``last_checkpoint`` is replaced atomically, and only then are the checkpoints
    beyond ``max_keep_ckpts`` deleted. ``save_best`` checkpoints likewise: mmengine deletes the
    previous best first; here it goes once the new best is complete. A write that fails (a full
    disk) leaves everything as it was and raises :class:`CheckpointWriteError`. Other backends
    than the local disk keep mmengine's order. ``prepare_config`` turns a config's
    ``CheckpointHook`` into this one.
    """

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's, with the previous best removed only *after* the new best is written
        (under a temporary name, then renamed)."""
        from mmengine.fileio import LocalBackend
        if not self.save_best or not isinstance(self.file_backend, LocalBackend):
            return super()._save_best_checkpoint(runner, metrics)
        backend, removed = self.file_backend, []
        info = runner.message_hub.runtime_info
        before = ({k: v for k, v in info.items() if k.startswith('best_')},
                  {k: copy.copy(v) for k, v in vars(self).items()
                   if k.startswith('best_ckpt_path')})
        self.file_backend = _DeferRemoval(backend, removed)
        runner.save_checkpoint = partial(_best_atomically, runner.save_checkpoint)
        try:
            super()._save_best_checkpoint(runner, metrics)
        except BaseException:  # the new best was not written: the old one stays the best
            for key, value in before[0].items():
                runner.message_hub.update_info(key, value)
            vars(self).update(before[1])
            raise
        finally:
            self.file_backend = backend
            del runner.save_checkpoint  # the Runner method again
        current = {str(p) for p in [getattr(self, 'best_ckpt_path', None),
                                    *getattr(self, 'best_ckpt_path_dict', {}).values()] if p}
        for path in removed:
            if str(path) not in current:
                (backend.rmtree if backend.isdir(path) else backend.remove)(path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        from mmengine.fileio import LocalBackend
        if not isinstance(getattr(self.file_backend, 'backend', self.file_backend),
                          LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        stale, kept = [], list(self.keep_ckpt_ids)
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        name = self.filename_tmpl.format(step)
        self.last_ckpt = os.path.join(self.out_dir, name)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            tmp = _save_under_temp(
                runner.save_checkpoint, self.out_dir, name, self.file_client_args,
                save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
                meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        except BaseException as exc:  # nothing was replaced or deleted: undo the bookkeeping
            self.keep_ckpt_ids.clear()
            self.keep_ckpt_ids.extend(kept)
            runner.message_hub.update_info('keep_ckpt_ids', kept)
            if isinstance(exc, OSError):
                previous = (Path(runner.work_dir) / 'last_checkpoint')
                kept_msg = (f'the previous checkpoint {previous.read_text().strip()} is intact '
                            'and last_checkpoint still names it' if previous.is_file()
                            else 'no earlier checkpoint exists')
                raise CheckpointWriteError(
                    f'could not write checkpoint {name} in {self.out_dir} '
                    f'({exc.strerror or exc}); {kept_msg}. Free space (or fix the folder) and '
                    'continue with --resume') from exc
            raise
        barrier()  # sharded (FSDP 'local') checkpoints: every rank has written its part
        if not is_main_process():
            return
        commit(tmp, self.last_ckpt, fsync=True)
        write_text(Path(runner.work_dir) / 'last_checkpoint', self.last_ckpt, fsync=True)
        for old in stale:
            path = Path(self.out_dir) / self.filename_tmpl.format(old)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


@HOOKS.register_module()
class RngStateHook(Hook):
    """Make a resumed run draw the same random numbers as an uninterrupted one.

    mmengine's checkpoints keep weights, optimizer, schedulers and the data position (the
    loop replays the sampler up to the checkpoint's iteration), but not torch's random state,
    so after ``--resume`` dropout and drop-path masks differ from the run that was not
    interrupted. This hook stores torch's CPU (and CUDA) generator states in every
    checkpoint's ``meta`` and restores them just before the first iteration after a resume,
    i.e. after the loop has replayed the data pipeline (whose NumPy draws are reproduced by
    that replay, or by the seeded workers). ``prepare_config`` adds it to every training.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: dict | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        import torch
        state = dict(torch=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint.setdefault('meta', {})['altair_rng'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = (checkpoint.get('meta') or {}).get('altair_rng')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._pending is None:
            return
        import torch
        torch.set_rng_state(self._pending['torch'])
        if 'cuda' in self._pending and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self._pending['cuda'])
        self._pending = None


class NonFiniteLossError(AltairError, FloatingPointError):
    """Training produced a NaN or infinite loss."""


@HOOKS.register_module()
class StopOnNonFiniteLossHook(Hook):
    """Stop training at the first NaN or infinite loss, before that iteration is checkpointed.

    The optimizer has already stepped with the bad gradients, so the weights in memory are
    spoiled; raising here (priority above the checkpoint hook's) keeps the last checkpoint
    the last good one, and the run is recorded as failed with this message.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        import math
        values = {k: float(v.detach() if hasattr(v, 'detach') else v)
                  for k, v in (outputs or {}).items() if 'loss' in k}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            return
        last = runner.message_hub.get_info('last_ckpt')
        keep = (f'the last good checkpoint is {last}' if last
                else 'no checkpoint was written before it')
        parts = ', '.join(f'{k}={v}' for k, v in values.items())
        raise NonFiniteLossError(
            f'loss is not finite at iteration {runner.iter + 1} ({parts}); training stopped and '
            f'{keep}. Lower the learning rate, clip gradients (optim_wrapper.clip_grad='
            'dict(max_norm=...)), use bf16 rather than fp16, or check the data for invalid values')


def to_channels_last(model) -> None:
    """Put the 4-D parameters and buffers of ``model`` (unwrapped from DDP and friends) in
    channels-last memory format, in place: the optimiser's references stay valid."""
    import torch
    from mmengine.model import is_model_wrapper
    (model.module if is_model_wrapper(model) else model).to(memory_format=torch.channels_last)


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Run the model with its convolution weights in channels-last (NHWC) memory format.

    oneDNN's CPU convolutions compute in NHWC; with NCHW weights every layer reorders its
    activations there and back (``benchmarks/recipe_speed.py`` measures the difference), and a
    channels-last weight makes each convolution return channels-last activations, so
    converting the model is enough. Checkpoints load into it unchanged (``copy_`` keeps the
    destination's layout). ``altair init`` writes it into the configs it makes.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        to_channels_last(runner.model)


@HOOKS.register_module()
class WeightAverageHook(EMAHook):
    """mmengine's ``EMAHook`` (an exponential moving average of the weights, swapped in for
    validation and checkpoints) with its start and span given as shares of the run:
    averaging starts at ``begin * max_iters`` with momentum ``1 / (span * max_iters)``.
    The shares hold when the iterations change (``--cfg-options train_cfg.max_iters=…``),
    where a fixed ``begin_iter`` past the new end would be refused.
    """

    def __init__(self, begin: float = 0.5, span: float = 0.25, **kwargs) -> None:
        if not 0 <= begin < 1 or not 0 < span <= 1:
            raise AltairError(f'WeightAverageHook: begin {begin} must be in [0, 1) and span '
                              f'{span} in (0, 1]')
        kwargs.setdefault('ema_type', 'ExponentialMovingAverage')
        kwargs.setdefault('update_buffers', True)
        super().__init__(**kwargs)
        self.begin, self.span = begin, span

    def before_train(self, runner) -> None:
        self.begin_iter = int(self.begin * runner.max_iters)
        self.enabled_by_epoch = False
        self.ema_model.momentum = min(1.0, 1.0 / (self.span * runner.max_iters))
        super().before_train(runner)
