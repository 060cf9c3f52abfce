"""Hooks: a run's metrics for the run store, and crash-safe checkpoints."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from mmengine.dist import barrier, is_main_process, master_only
from mmengine.hooks import CheckpointHook, Hook

from altair.inference.raster import partial_path
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
        from altair.api.runs import write_json
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


@HOOKS.register_module()
class AltairCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with an order that survives a crash at any moment.

    mmengine 0.10.7 deletes the oldest kept checkpoint *before* writing the new one, and
    writes the new one under its final name: with ``max_keep_ckpts=1`` a process killed while
    saving leaves no complete checkpoint and ``last_checkpoint`` pointing at a deleted file
    (seen in the killed-rank test). Here the new checkpoint is written under a temporary name
    and renamed, ``last_checkpoint`` is replaced atomically, and only then are the checkpoints
    beyond ``max_keep_ckpts`` deleted. Other backends than the local disk keep mmengine's order.
    ``prepare_config`` turns a config's ``CheckpointHook`` into this one.
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        from mmengine.fileio import LocalBackend
        if not isinstance(self.file_backend, LocalBackend):
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
        partial = partial_path(Path(name)).name
        try:
            runner.save_checkpoint(self.out_dir, partial, self.file_client_args,
                                   save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, backend_args=self.backend_args,
                                   **self.args)
        except BaseException:  # nothing was replaced or deleted: undo the bookkeeping
            self.keep_ckpt_ids.clear()
            self.keep_ckpt_ids.extend(kept)
            runner.message_hub.update_info('keep_ckpt_ids', kept)
            raise
        barrier()  # sharded (FSDP 'local') checkpoints: every rank has written its part
        if not is_main_process():
            return
        os.replace(os.path.join(self.out_dir, partial), self.last_ckpt)
        record = Path(runner.work_dir) / 'last_checkpoint'
        tmp = partial_path(record)
        tmp.write_text(self.last_ckpt)
        os.replace(tmp, record)
        for old in stale:
            path = Path(self.out_dir) / self.filename_tmpl.format(old)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
