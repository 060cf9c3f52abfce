"""Hooks that connect a training to Altair's run store."""
from __future__ import annotations

import json
from pathlib import Path

from mmengine.dist import master_only
from mmengine.hooks import Hook

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
