"""Time a few training steps and one validation window of a config on this machine, for the
time budget of ``altair init`` (``altair.datasets.plan.iterations_for_budget``)."""
from __future__ import annotations

import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class StepTiming:
    """Seconds per training step (data loading included) at ``batch_size``, and seconds per
    validation window times the number of windows (one whole validation)."""
    seconds_per_step: float
    batch_size: int
    seconds_per_validation: float

    @property
    def seconds_per_image(self) -> float:
        return self.seconds_per_step / self.batch_size


def time_steps(config: str | Path, *, steps: int = 3, warmup: int = 1, seed: int = 0,
               validation: bool = True, echo: bool = False) -> StepTiming:
    """Build the model, optimiser and training data of ``config`` (a file ``altair init``
    wrote) and time ``steps`` training steps after ``warmup`` untimed ones, each one batch
    drawn through the training pipeline and one ``train_step``; the median is returned.
    With ``validation``, one validation window is timed too (after one untimed) and scaled
    to the validation set's length.

    The two run one after the other in this process, where training loads data in worker
    processes beside the model: on a machine with spare cores the estimate is on the safe
    side.
    """
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    from altair.registry import DATASETS, MODELS
    cfg = Config.fromfile(str(config))  # the file init just wrote: its own code
    init_default_scope('altair')
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # class_weight='auto' outside `altair train`, etc.
        model = MODELS.build(cfg.model)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        train = DATASETS.build(cfg.train_dataloader.dataset)
        batch = int(cfg.train_dataloader.batch_size)
        model.train()
        times = []
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            data = pseudo_collate([train[int(j)] for j in rng.integers(0, len(train), batch)])
            model.train_step(data, optim)
            times.append(time.perf_counter() - t0)
            if echo:
                print(f'timed training step {i + 1}/{warmup + steps}: {times[-1]:.2f} s',
                      file=sys.stderr)
        per_validation = 0.0
        if validation:
            val = DATASETS.build(cfg.val_dataloader.dataset)
            model.eval()
            per_window = []
            with torch.no_grad():
                for j in range(min(2, len(val))):
                    t0 = time.perf_counter()
                    model.val_step(pseudo_collate([val[j]]))
                    per_window.append(time.perf_counter() - t0)
            per_validation = per_window[-1] * len(val) if per_window else 0.0
    return StepTiming(statistics.median(times[warmup:]), batch, per_validation)
