"""Hooks and a metric for the distributed and reliability tests, pulled into a run with
``custom_imports=dict(imports=['tests.engine.rank_hooks'])`` (never imported by Altair)."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from altair.evaluation.iou import ClassIoUMetric
from altair.registry import HOOKS, METRICS


@METRICS.register_module()
class TestExactIoUMetric(ClassIoUMetric):
    """``ClassIoUMetric`` that also writes, unrounded, what its result is computed from to the
    JSON file ``dump`` (on the rank that computes the metrics, after the ranks' results are
    gathered): the sample count, the summed per-class intersections, unions and label areas,
    and mIoU as a float (mmseg rounds what it returns to 2 decimals)."""

    def __init__(self, dump: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dump = dump

    def compute_metrics(self, results: list) -> dict[str, float]:
        intersect, union, _, label = (sum(r[i] for r in results).double() for i in range(4))
        present = union > 0
        Path(self.dump).write_text(json.dumps(dict(
            samples=len(results), intersect=intersect.tolist(), union=union.tolist(),
            label=label.tolist(),
            mIoU=float((intersect[present] / union[present]).mean() * 100))))
        return super().compute_metrics(results)


@HOOKS.register_module()
class TestDumpRankWeightsHook(Hook):
    """Every rank saves its model's state dict before training to
    ``<work_dir>/rank<r>_init.pt`` and after it to ``<work_dir>/rank<r>.pt``."""

    def before_train(self, runner) -> None:
        self._dump(runner, f'rank{get_rank()}_init.pt')

    def after_run(self, runner) -> None:
        self._dump(runner, f'rank{get_rank()}.pt')

    @staticmethod
    def _dump(runner, name: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        torch.save(state, Path(runner.work_dir) / name)


@HOOKS.register_module()
class TestKillRankHook(Hook):
    """Rank ``rank`` kills itself with SIGKILL after iteration ``after_iter`` (a crashed node)."""

    def __init__(self, rank: int = 1, after_iter: int = 2) -> None:
        self.rank, self.after_iter = rank, after_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if get_rank() == self.rank and runner.iter + 1 >= self.after_iter:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class TestNaNLossHook(Hook):
    """From iteration ``from_iter`` on, the decode head's loss is multiplied by NaN."""

    def __init__(self, from_iter: int = 3) -> None:
        self.from_iter = from_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 >= self.from_iter:
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            model.decode_head.loss_decode.loss_weight = float('nan')


@HOOKS.register_module()
class TestRecordSetupHook(Hook):
    """Write what the runner was built with to the JSON file ``path`` after the first
    iteration: the runner, optim wrapper and strategy classes, the autocast dtype, the
    accumulation count and the optimizer steps taken so far."""

    def __init__(self, path: str) -> None:
        self.path = path

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter != 0 or get_rank() != 0:
            return
        wrapper = runner.optim_wrapper
        strategy = getattr(runner, 'strategy', None)
        Path(self.path).write_text(json.dumps(dict(
            runner=type(runner).__name__, optim_wrapper=type(wrapper).__name__,
            cast_dtype=str(getattr(wrapper, 'cast_dtype', None)),
            accumulative_counts=wrapper._accumulative_counts,
            strategy=type(strategy).__name__ if strategy is not None else None,
            model=type(runner.model).__name__)))
