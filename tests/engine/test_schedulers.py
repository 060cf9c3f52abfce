"""LR schedules against their closed forms; the plateau scheduler on a scripted metric
sequence; scheduler state survives a checkpoint round trip."""
from __future__ import annotations

import io
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import ParamSchedulerHook
from mmengine.optim.scheduler import OneCycleLR, PolyLR, ReduceOnPlateauLR

from altair.engine.schedulers import WarmupCosineLR

BASE = 0.1


def _optimizer(lr: float = BASE):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr, momentum=0.9)


def _lrs(scheduler, optimizer, steps: int) -> list[float]:
    """The LR each of ``steps`` iterations trains with (scheduler stepped after each)."""
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    return out


def test_poly_matches_its_formula():
    # mmengine's PolyLR reaches eta_min on the last step, end - 1: (1 - t / (end - 1)) ** power
    opt = _optimizer()
    lrs = _lrs(PolyLR(opt, eta_min=1e-4, power=0.9, begin=0, end=100, by_epoch=False), opt, 100)
    for t in (0, 1, 37, 50, 98, 99):
        assert lrs[t] == pytest.approx(1e-4 + (BASE - 1e-4) * (1 - t / 99) ** 0.9, rel=1e-9)


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def test_one_cycle_matches_its_formula():
    total, pct, div, final = 200, 0.1, 25.0, 1e4
    opt = _optimizer()
    lrs = _lrs(OneCycleLR(opt, eta_max=BASE, total_steps=total, pct_start=pct,
                          div_factor=div, final_div_factor=final, by_epoch=False), opt, total)
    initial, low = BASE / div, BASE / div / final
    peak = pct * total - 1  # the warm phase ends on this step
    for t in (0, 5, 19, 20, 100, 199):
        expected = (_cos(initial, BASE, t / peak) if t <= peak else
                    _cos(BASE, low, (t - peak) / (total - 1 - peak)))
        assert lrs[t] == pytest.approx(expected, rel=1e-6)
    assert lrs[19] == pytest.approx(BASE) and lrs[0] == pytest.approx(initial)


def test_warmup_cosine_matches_its_formula_at_the_boundaries():
    warmup, end, start, eta_min = 10, 110, 1e-3, 1e-4
    opt = _optimizer()
    lrs = _lrs(WarmupCosineLR(opt, warmup=warmup, start_factor=start, eta_min=eta_min,
                              end=end, by_epoch=False), opt, end)
    for t in (0, 1, 9):  # linear warm-up from start * base
        assert lrs[t] == pytest.approx(BASE * (start + (1 - start) * t / warmup), rel=1e-9)
    for t in (10, 11, 60, 109):  # cosine from base (at t = warmup) towards eta_min
        progress = (t - warmup) / (end - warmup)
        expected = eta_min + (BASE - eta_min) * (1 + math.cos(math.pi * progress)) / 2
        assert lrs[t] == pytest.approx(expected, rel=1e-9)
    assert lrs[warmup] == pytest.approx(BASE)


def test_warmup_cosine_by_epochs_converts_to_iterations():
    opt = _optimizer()
    sched = WarmupCosineLR.build_iter_from_epoch(opt, warmup=2, end=10, by_epoch=True,
                                                 epoch_length=5, start_factor=0.5)
    assert (sched.warmup, sched.end, sched.by_epoch) == (10, 50, False)
    assert _lrs(sched, opt, 11)[5] == pytest.approx(BASE * 0.75)  # half-way through warm-up


def test_warmup_cosine_rejects_bad_arguments():
    with pytest.raises(ValueError, match='WarmupCosineLR needs `end`'):
        WarmupCosineLR(_optimizer(), warmup=5, by_epoch=False)
    with pytest.raises(ValueError, match=r'warmup must be in \[0, end - begin\] = \[0, 10\], '
                                         r'got 20'):
        WarmupCosineLR(_optimizer(), warmup=20, end=10, by_epoch=False)


def _fake_runner(scheduler):
    return SimpleNamespace(param_schedulers=[scheduler])


def _plateau(opt):  # as in configs/_base_/schedules/schedule_plateau_20k.py
    return ReduceOnPlateauLR(opt, monitor='mIoU', rule='greater', factor=0.1, patience=2,
                             cooldown=1, min_value=1e-5, by_epoch=True)


def test_plateau_cuts_after_patience_validations_without_improvement_and_not_before():
    opt = _optimizer()
    sched = _plateau(opt)
    hook, runner = ParamSchedulerHook(), _fake_runner(sched)
    seen = []
    for miou in (10.0, 11.0, 10.5, 10.9, 10.8, 10.7, 10.6, 10.5, 10.4):
        for _ in range(5):  # iterations between validations, as in iteration-based training
            hook.after_train_iter(runner, 0)
        hook.after_val_epoch(runner, {'mIoU': miou, 'aAcc': 80.0})
        seen.append(opt.param_groups[0]['lr'])
    # best 11.0 at validation 2; bad: 10.5, 10.9 (= patience 2, no cut yet), 10.8 → cut;
    # 10.7 is the cooldown; then 10.6, 10.5 are the new patience and 10.4 cuts again
    assert seen == pytest.approx([BASE, BASE, BASE, BASE, BASE * 0.1, BASE * 0.1, BASE * 0.1,
                                  BASE * 0.1, BASE * 0.01])


def test_plateau_scheduler_must_count_validations():
    with pytest.raises(AssertionError, match='only support by_epoch=True'):
        ReduceOnPlateauLR(_optimizer(), monitor='mIoU', rule='greater', by_epoch=False)


def _round_trip(state: dict) -> dict:
    """Through bytes with weights-only loading, as a checkpoint does."""
    import altair.engine  # noqa: F401  (allow-listed globals)
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize('make', [
    lambda o: WarmupCosineLR(o, warmup=7, end=40, by_epoch=False),
    lambda o: OneCycleLR(o, eta_max=BASE, total_steps=40, by_epoch=False),
    lambda o: PolyLR(o, eta_min=0.0, power=0.9, end=40, by_epoch=False)])
def test_resume_restores_scheduler_state_exactly(make):
    opt = _optimizer()
    straight = _lrs(make(opt), opt, 40)
    opt = _optimizer()
    sched = make(opt)
    first = _lrs(sched, opt, 15)
    saved = _round_trip({'optimizer': opt.state_dict(), 'scheduler': sched.state_dict()})
    opt2 = _optimizer()
    sched2 = make(opt2)
    opt2.load_state_dict(saved['optimizer'])
    sched2.load_state_dict(saved['scheduler'])
    assert first + _lrs(sched2, opt2, 25) == straight  # bit for bit


def test_resume_keeps_the_plateau_counters():
    opt = _optimizer()
    sched = _plateau(opt)
    hook, runner = ParamSchedulerHook(), _fake_runner(sched)
    for miou in (10.0, 11.0, 10.5, 10.9):
        hook.after_val_epoch(runner, {'mIoU': miou})
    saved = _round_trip(sched.state_dict())
    opt2 = _optimizer()
    sched2 = _plateau(opt2)
    sched2.load_state_dict(saved)
    assert (sched2.best, sched2.num_bad_epochs) == (11.0, 2)
    ParamSchedulerHook().after_val_epoch(_fake_runner(sched2), {'mIoU': 10.8})
    assert opt2.param_groups[0]['lr'] == pytest.approx(BASE * 0.1)  # the third bad one cuts


@pytest.mark.slow
@pytest.mark.extended
def test_plateau_gets_the_validation_metric_in_iteration_based_training(bluemarble, tiny,
                                                                        tmp_path):
    """3 iterations, validation after each; no later mIoU counts as better (threshold 1e9), so
    with patience 0 the 2nd and 3rd validations each cut the LR 10x. The checkpoint of
    iteration 3 is written before that iteration's validation: it holds one cut."""
    import altair as alt
    opts = {**tiny.options(bluemarble, iters=3), 'train_cfg.val_interval': 1,
            'optim_wrapper': dict(_delete_=True, type='OptimWrapper',
                                  optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
            'param_scheduler': [dict(type='ReduceOnPlateauLR', monitor='mIoU', rule='greater',
                                     factor=0.1, patience=0, threshold=1e9, by_epoch=True)]}
    run = alt.train('configs/pspnet.py', cfg_options=opts, root=tmp_path)
    state = torch.load(run.last_checkpoint, map_location='cpu', weights_only=True)
    assert len(run.metrics) == 3
    assert state['optimizer']['param_groups'][0]['lr'] == pytest.approx(1e-3)  # not 1e-2
