"""``WarmupCosineLR``: linear warm-up then cosine annealing as one scheduler, in closed form.

OneCycle (``OneCycleLR``), polynomial decay (``PolyLR``) and plateau (``ReduceOnPlateauLR``)
are mmengine's own; ``configs/_base_/schedules/`` has one-line files for each. mmengine's
plateau scheduler must be ``by_epoch=True`` even in iteration-based training: its
``ParamSchedulerHook`` hands validation metrics only to epoch-based schedulers, and each
validation then counts as one "epoch" of patience (tested).
"""
from __future__ import annotations

import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from altair.registry import PARAM_SCHEDULERS


def warmup_cosine_factor(step: int, *, total: int, warmup: int, start_factor: float) -> float:
    """Cosine part's weight: the LR is ``eta_min + (base - eta_min) * factor`` after warm-up;
    during warm-up (``step < warmup``) the LR is ``base * factor`` with ``factor`` rising
    linearly from ``start_factor``."""
    if step < warmup:
        return start_factor + (1.0 - start_factor) * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


class WarmupCosineParamScheduler(_ParamScheduler):
    """Linear warm-up over ``warmup`` steps from ``start_factor * base`` to ``base``, then
    cosine annealing to ``eta_min`` at ``end`` (SGDR without restarts, Loshchilov & Hutter,
    ICLR 2017). Steps are iterations (``by_epoch=False``) or epochs; epochs are converted to
    iterations with ``convert_to_iter_based=True`` like mmengine's schedulers.

    Args:
        warmup: warm-up length in steps (0: cosine from the start).
        start_factor: first LR as a fraction of the base LR, in (0, 1].
        eta_min: final LR.
        begin, end: the steps the schedule spans (``end`` is required).
    """

    def __init__(self, optimizer, param_name: str, *, warmup: int, start_factor: float = 1e-3,
                 eta_min: float = 0.0, begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = True, verbose: bool = False) -> None:
        if end == INF:
            raise ValueError('WarmupCosineLR needs `end` (the step where the cosine reaches '
                             'eta_min)')
        if not 0 <= warmup <= end - begin:
            raise ValueError(f'warmup must be in [0, end - begin] = [0, {end - begin}], '
                             f'got {warmup}')
        if not 0.0 < start_factor <= 1.0:
            raise ValueError(f'start_factor must be in (0, 1], got {start_factor}')
        self.warmup, self.start_factor, self.eta_min = warmup, start_factor, eta_min
        super().__init__(optimizer, param_name=param_name, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, warmup: int, begin: int = 0, end: int = INF,
                              by_epoch: bool = True, epoch_length: int | None = None,
                              **kwargs):
        """The same schedule in iterations (``warmup``, ``begin`` and ``end`` × epoch length)."""
        if not by_epoch or not epoch_length or epoch_length < 1:
            raise ValueError('convert_to_iter_based needs by_epoch=True and a positive '
                             f'epoch_length, got {by_epoch}, {epoch_length}')
        return cls(*args, warmup=warmup * epoch_length, begin=int(begin * epoch_length),
                   end=int(end * epoch_length) if end != INF else end, by_epoch=False,
                   **kwargs)

    def _get_value(self) -> list:
        t = self.last_step
        f = warmup_cosine_factor(t, total=self.end - self.begin, warmup=self.warmup,
                                 start_factor=self.start_factor)
        if t < self.warmup:
            return [base * f for base in self.base_values]
        return [self.eta_min + (base - self.eta_min) * f for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class WarmupCosineLR(LRSchedulerMixin, WarmupCosineParamScheduler):
    """``WarmupCosineParamScheduler`` for the learning rate, e.g.
    ``param_scheduler = dict(type='WarmupCosineLR', warmup=1500, end=160000, by_epoch=False)``.
    """
