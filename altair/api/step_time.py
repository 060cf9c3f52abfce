"""Time a few training steps and one validation window of a config on this machine, for the
time budget of ``altair init`` (``altair.datasets.plan.iterations_for_budget``)."""
from __future__ import annotations

import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from mmengine.dataset import pseudo_collate

from altair.engine.hooks import to_channels_last
from altair.registry import DATASETS, MODELS


@dataclass(frozen=True)
class StepTiming:
    """Seconds per training step at ``batch_size`` (data loading by the config's workers
    included), per whole validation (one window timed, times the number of windows), and
    from the start to the first step (building the model, the data and the workers)."""
    seconds_per_step: float
    batch_size: int
    seconds_per_validation: float
    seconds_to_start: float = 0.0

    @property
    def seconds_per_image(self) -> float:
        return self.seconds_per_step / self.batch_size


def time_steps(config: str | Path, *, steps: int = 5, warmup: int = 2, seed: int = 0,
               validation: bool = True, echo: bool = False) -> StepTiming:
    """Build the model, optimiser and training data loader of ``config`` (a file
    ``altair init`` wrote) as training does, and time ``steps`` training steps after
    ``warmup`` untimed ones; the median is returned. The loader is the config's own (its
    workers, sampler and batch), so the steps pay for loading as training will. With
    ``validation``, one validation window is timed too (after one untimed) and scaled to the
    validation set's length.
    """
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    t0 = time.perf_counter()
    cfg = Config.fromfile(str(config))  # the file init just wrote: its own code
    init_default_scope('altair')
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # class_weight='auto' outside `altair train`, etc.
        model = MODELS.build(cfg.model)
        if any(h.get('type') == 'ChannelsLastHook' for h in cfg.get('custom_hooks', [])):
            to_channels_last(model)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
        batches = iter(loader)
        model.train()
        times = []
        for i in range(warmup + steps):
            t1 = time.perf_counter()
            model.train_step(next(batches), optim)
            times.append(time.perf_counter() - t1)
            if i == 0:
                first_done = time.perf_counter() - t0
            if echo:
                print(f'timed training step {i + 1}/{warmup + steps}: {times[-1]:.2f} s',
                      file=sys.stderr)
        del batches, loader  # stops the workers
        per_validation = 0.0
        if validation:
            val = DATASETS.build(cfg.val_dataloader.dataset)
            model.eval()
            per_window = []
            with torch.no_grad():
                for j in range(min(2, len(val))):
                    t1 = time.perf_counter()
                    model.val_step(pseudo_collate([val[j]]))
                    per_window.append(time.perf_counter() - t1)
            per_validation = per_window[-1] * len(val) if per_window else 0.0
    step = statistics.median(times[warmup:])
    # what the first step cost beyond a step: building, worker start-up, first batches
    return StepTiming(step, int(cfg.train_dataloader.batch_size), per_validation,
                      max(first_done - step, 0.0))
