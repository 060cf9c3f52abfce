"""Hooks for the distributed and reliability tests, pulled into a training with
``custom_imports=dict(imports=['tests.engine.rank_hooks'])`` (never imported by Altair)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from altair.registry import HOOKS


@HOOKS.register_module()
class TestDumpRankWeightsHook(Hook):
    """After training, every rank saves its model's state dict to ``<work_dir>/rank<r>.pt``."""

    def after_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save(model.state_dict(), Path(runner.work_dir) / f'rank{get_rank()}.pt')


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
