"""The planned recipe: each rule on constructed statistics (both sides of every threshold),
and the loss / checkpoint choices against what mmseg and mmengine do with them."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from altair.datasets import plan as P
from altair.datasets.objects import ObjectStats
from altair.datasets.plan import Choice, PlanError
from altair.errors import AltairError


def _eqd(area: float) -> float:
    return 2 * math.sqrt(area / math.pi)


def _stats(d: float, *, count: int = 50, min_area: float = 100.0, pixel_area: float = 1.0):
    return ObjectStats(count, d, d, min_area, pixel_area)


# ---------------------------------------------------------------- rare classes, loss


@pytest.mark.parametrize('share, rare', [(0.0999, True), (0.10, False), (0.5, False)])
def test_the_rare_threshold_on_both_sides(share, rare):
    shares = [1 - share, share]
    loss = P.loss_choice(shares)
    ce = loss.value[0]
    assert (ce.get('class_weight') == 'auto') is rare
    assert ce['type'] == ('AutoWeightCrossEntropyLoss' if rare else 'CrossEntropyLoss')
    assert loss.value[1] == dict(type='TverskyLoss', alpha=0.5, beta=0.5, smooth=1.0,
                                 loss_weight=1.0, loss_name='loss_dice')
    assert P.rare_classes(shares) == ([1] if rare else [])
    over = P.foreground_oversampling(shares, background=0)
    assert over.value == (dict(fraction=1 / 3, classes=[1]) if rare
                          else dict(fraction=0.0, classes=[]))


def test_counts_are_normalised_and_absent_classes_are_not_rare():
    # counts 900 / 95 / 5 / 0: shares 0.9, 0.095, 0.005, 0
    assert P.rare_classes([900, 95, 5, 0]) == [1, 2]
    assert P.rare_classes([900, 95, 5, 0], exclude=2) == [1]
    over = P.foreground_oversampling([900, 95, 5, 0])
    assert over.value == dict(fraction=1 / 3, classes=[1, 2])
    assert 'class 2 has 0.5 %' in P.loss_choice([900, 95, 5, 0]).reason


def test_a_rare_background_is_not_oversampled_but_weighted():
    shares = [0.05, 0.95]
    assert P.foreground_oversampling(shares, background=0).value['fraction'] == 0
    assert P.loss_choice(shares).value[0]['class_weight'] == 'auto'


@pytest.mark.parametrize('bad', [[1.0], [0, 0], [0.5, -0.1], [0.5, float('nan')]])
def test_shares_that_are_not_shares_are_refused(bad):
    with pytest.raises(PlanError, match='not shares of labelled pixels') as err:
        P.loss_choice(bad)
    assert isinstance(err.value, AltairError) and isinstance(err.value, ValueError)


def test_the_planned_losses_build_and_the_dice_term_is_dice():
    """Built through Altair's registry (class_weight='auto' builds unweighted outside
    `altair train`); the Tversky term with alpha = beta = 0.5 equals 1 - soft Dice computed
    by hand per class (smooth 1 in Tversky's form is 2 in Dice's), averaged over classes."""
    from mmengine.registry import DefaultScope

    from altair.registry import MODELS
    ce_cfg, dice_cfg = P.loss_choice([0.95, 0.05]).value
    with DefaultScope.overwrite_default_scope('altair'):
        ce, dice = MODELS.build(ce_cfg), MODELS.build(dice_cfg)
    assert type(ce).__name__ == 'AutoWeightCrossEntropyLoss' and ce.weight_method == 'auto'
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 3, 6, 5, generator=g)
    target = torch.randint(0, 3, (1, 6, 5), generator=g)
    target[0, 0, :] = 255
    p = logits.softmax(1)[0]
    valid = target[0] != 255
    ref = []
    for c in range(3):
        pc, tc = p[c][valid], (target[0][valid] == c).float()
        tp, fp, fn = (pc * tc).sum(), (pc * (1 - tc)).sum(), ((1 - pc) * tc).sum()
        ref.append(1 - (2 * tp + 2) / (2 * tp + fp + fn + 2))
    assert float(dice(logits, target)) == pytest.approx(float(sum(ref) / 3), rel=1e-5)


# ---------------------------------------------------------------- crop and batch


@pytest.mark.parametrize('d, crop', [
    (5.0, 64),      # 4 x 5 = 20 -> 32, up to the minimum 64: small objects, small crop
    (16.0, 64),     # exactly 64
    (16.5, 96),     # 66 -> the next multiple of 32
    (100.0, 416),   # 400 -> 416
    (300.0, 512),   # 1200, down to the maximum
])
def test_crop_from_the_large_objects(d, crop):
    c = P.crop_size({0: _stats(1000.0), 1: _stats(d)}, min_side=2000, background=0)
    assert c.value == crop and c.value % 32 == 0
    assert f'{d:.1f} px' in c.reason


def test_crop_takes_the_largest_class_and_tiny_images_clamp_it():
    sizes = {1: _stats(10.0), 2: _stats(60.0)}
    assert P.crop_size(sizes, min_side=1000).value == 256  # 240 -> 256, class 2
    clamped = P.crop_size(sizes, min_side=100)
    assert clamped.value == 96 and 'smallest image side (100 px)' in clamped.reason
    assert P.crop_size(sizes, min_side=20).value == 20  # under one stride: the image itself
    # without measured objects: the default, still cut to the image
    empty = {1: ObjectStats(0, None, None, None)}
    assert P.crop_size(empty, min_side=1000).value == P.DEFAULT_CROP
    assert P.crop_size(empty, min_side=150).value == 128


@pytest.mark.parametrize('rf, crop', [
    (108, 224),   # the UNet's 108 px: 216 -> 224, under the objects' 512
    (20, 64),     # a tiny field still leaves the minimum crop
    (300, 512),   # a field past MAX_CROP / 2 does not bind
    (None, 512),  # global attention: no cap
])
def test_crop_is_capped_at_two_receptive_fields(rf, crop):
    c = P.crop_size({0: _stats(1000.0), 1: _stats(300.0)}, min_side=2000, background=0,
                    receptive_field=rf)
    assert c.value == crop
    assert (f'receptive field ({rf} px)' in c.reason) == (crop < 512)
    # small objects are under the cap: it changes nothing
    small = P.crop_size({1: _stats(10.0)}, min_side=2000, receptive_field=rf)
    assert small.value == P.crop_size({1: _stats(10.0)}, min_side=2000).value == 64
    with pytest.raises(P.PlanError, match='receptive field 0'):
        P.crop_size({1: _stats(10.0)}, min_side=2000, receptive_field=0)


def test_batch_size_budget_arithmetic():
    per = P.BYTES_PER_PIXEL_BAND * 3 * 256 * 256
    assert P.batch_size_for_memory(256, bands=3, budget_bytes=4 * per).value == 4
    assert P.batch_size_for_memory(256, bands=3, budget_bytes=4 * per - 1).value == 3
    assert P.batch_size_for_memory(256, bands=6, budget_bytes=4 * per).value == 2
    low = P.batch_size_for_memory(256, bands=3, budget_bytes=per)
    assert low.value == 2 and 'over the budget' in low.reason
    assert P.batch_size_for_memory(64, bands=3, budget_bytes=1e12).value == 16
    # the default budget: a 256^2 RGB crop fits 15
    assert P.batch_size_for_memory(256, bands=3).value == 15


@pytest.mark.parametrize('spi, budget, mem, batch', [
    # time binds: 600 s / (500 steps x 0.1 s) = 12 per step
    (0.1, 600.0, 1e12, 12),
    # memory binds: 4 images of 256^2 x 3 bands fit, time would allow 120
    (0.01, 600.0, 4 * P.BYTES_PER_PIXEL_BAND * 3 * 256 ** 2, 4),
    # a slow image: the time budget fits 0 per step -> batch norm's floor, fewer steps
    (2.0, 600.0, 1e12, 8),
    # 600 s / (500 x 0.2 s) = 6 per step: raised to 8 as well
    (0.2, 600.0, 1e12, 8),
    # ... unless memory holds fewer: 3 fit
    (0.2, 600.0, 3 * P.BYTES_PER_PIXEL_BAND * 3 * 256 ** 2, 3),
    # memory holds none: the smallest batch batch norm can run
    (2.0, 600.0, 1.0, P.MIN_BATCH),
    # a fast one: clamped to the maximum
    (0.001, 600.0, 1e12, P.MAX_BATCH),
])
def test_batch_for_the_time_and_memory_budgets(spi, budget, mem, batch):
    got = P.batch_size_for_budget(256, bands=3, seconds_per_image=spi, budget_seconds=budget,
                                  memory_bytes=mem)
    assert got.value == batch
    assert P.NORM_BATCH == 8
    # every larger batch is over the memory budget, or over the time budget and past
    # batch norm's floor
    for b in range(batch + 1, P.MAX_BATCH + 1):
        assert (b * P.BYTES_PER_PIXEL_BAND * 3 * 256 ** 2 > mem
                or (P.MIN_STEPS * b * spi > budget and b > P.NORM_BATCH))
    if P.MIN_STEPS * batch * spi > budget and batch > P.MIN_BATCH:
        assert f'raised to {P.NORM_BATCH}' in got.reason or 'memory' in got.reason.split(';')[0]


def test_batch_for_the_budget_refuses_nonsense():
    with pytest.raises(PlanError):
        P.batch_size_for_budget(256, bands=3, seconds_per_image=0.0)
    with pytest.raises(PlanError):
        P.batch_size_for_budget(256, bands=3, seconds_per_image=0.1, budget_seconds=-1)


# ---------------------------------------------------------------- iterations


@pytest.mark.parametrize('spi', [0.1, 0.3, 0.7, 1.1, 0.013, 1 / 3, 0.05])
def test_iterations_fit_the_budget_and_one_more_would_not(spi):
    iters = P.iterations_for_budget(spi, 600.0).value
    assert iters * spi <= 600.0 < (iters + 1) * spi


@pytest.mark.parametrize('fixed', [0.0, 12.5, 300.0])
def test_validation_time_comes_off_the_budget(fixed):
    it = P.iterations_for_budget(0.3, 600.0, fixed_seconds=fixed)
    assert it.value * 0.3 + fixed <= 600.0 < (it.value + 1) * 0.3 + fixed
    assert ('validation' in it.reason) == (fixed > 0)
    over = P.iterations_for_budget(0.3, 600.0, fixed_seconds=700.0)
    assert over.value == P.MIN_ITERS and 'over the budget' in over.reason
    with pytest.raises(PlanError):
        P.iterations_for_budget(0.3, 600.0, fixed_seconds=-1.0)


def test_iterations_clamps_and_reason():
    slow = P.iterations_for_budget(10.0, 600.0)  # 60 fit
    assert slow.value == P.MIN_ITERS and 'over the budget' in slow.reason
    assert P.iterations_for_budget(1e-4, 600.0, min_iters=10, max_iters=500).value == 500
    default = P.iterations_for_budget(0.5)
    assert default.value == 1440 and '12 min budget' in default.reason
    with pytest.raises(PlanError):
        P.iterations_for_budget(0.0, 600.0)
    with pytest.raises(PlanError):
        P.iterations_for_budget(0.1, 600.0, min_iters=10, max_iters=5)


# ---------------------------------------------------------------- checkpoint metric


def test_checkpoint_metric_is_the_key_class_iou_metric_returns():
    from altair.evaluation.iou import ClassIoUMetric
    classes = ('background', 'landslide_loss')
    key = P.checkpoint_metric(classes).value
    assert key == 'IoU.landslide_loss'
    assert P.checkpoint_metric(classes, background=1).value == 'IoU.background'
    assert P.checkpoint_metric(('a', 'b', 'c')).value == 'mIoU'
    metric = ClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=classes)
    t = torch.tensor
    results = [(t([5., 3.]), t([6., 4.]), t([5., 4.]), t([6., 3.]))]
    assert metric.compute_metrics(results)[key] == 75.0


def test_checkpoint_hook_needs_the_rule_for_a_class_key():
    """mmengine infers the rule from the key's name: 'IoU.<class>' is unknown to it (or read
    as 'less' when the class name holds 'loss'), so the plan passes rule='greater'."""
    from mmengine.hooks import CheckpointHook
    with pytest.raises(ValueError, match='Cannot infer the rule'):
        CheckpointHook(interval=1, save_best='IoU.building')
    assert CheckpointHook(interval=1, save_best='IoU.landslide_loss').rules == ['less']
    hook = CheckpointHook(interval=1, **P.checkpoint_hook_args('IoU.landslide_loss'))
    assert hook.rules == ['greater']
    assert CheckpointHook(interval=1, **P.checkpoint_hook_args('mIoU')).rules == ['greater']


def test_checkpoint_metric_refuses_one_class():
    with pytest.raises(PlanError, match='2 or more'):
        P.checkpoint_metric(('only',))


# ---------------------------------------------------------------- post-processing, precision


def test_precision_is_auto():
    c = P.precision_choice()
    assert c.value == 'auto' and 'bf16' in c.reason and 'fp16 never' in c.reason


def test_choice_line():
    assert Choice(3, 'because').line('x') == 'x: 3 -- because'


# ---------------------------------------------------------------- validation blocks


def test_stratified_blocks_hold_a_fair_share_of_a_rare_class():
    """Four labelled blocks, the rare class in two: holding out half, one of each kind is
    the split that gives every class half (a random draw misses it a third of the time)."""
    counts = np.zeros((3, 3, 2), int)
    counts[0, 0] = counts[0, 1] = (1000, 0)
    counts[2, 1] = counts[2, 2] = (900, 100)  # block (1, *) unlabelled: never drawn
    got = P.stratified_blocks(counts, val_fraction=0.5)
    assert len(got.value) == 2 and {tuple(b)[0] for b in got.value} == {0, 2}
    held = sum(counts[r, c] for r, c in got.value)
    assert held[1] == 100 and "50 % of the rarest class's (1)" in got.reason
    # one draw is the seed's first permutation, as a random split would be
    one = P.stratified_blocks(counts, val_fraction=0.5, draws=1, seed=7)
    labelled = np.flatnonzero(counts.sum(-1).ravel() > 0)
    first = np.random.default_rng(7).permutation(len(labelled))[:2]
    assert one.value == sorted((int(labelled[i] // 3), int(labelled[i] % 3)) for i in first)


def test_stratified_blocks_refuse_what_cannot_be_split():
    with pytest.raises(PlanError, match='1 block'):
        P.stratified_blocks(np.ones((1, 1, 2)), val_fraction=0.25)
    with pytest.raises(PlanError):
        P.stratified_blocks(np.ones((2, 2, 2)), val_fraction=1.5)


def test_augmentation_rotates_overhead_scenes_only():
    from altair.datasets.transforms.presets import PRESETS
    scenes = P.augmentation_choice('scenes')
    assert scenes.value == dict(type='AugPreset', name='overhead')
    assert 'overhead' in PRESETS and 'D4' in scenes.reason
    for kind in ('pairs', 'mmseg'):
        assert P.augmentation_choice(kind).value['type'] == 'RandomFlip'


def test_weighted_cross_entropy_adjusts_the_logits_at_inference():
    weighted = P.loss_choice([0.98, 0.02]).value
    assert P.decision_choice(weighted).value == 'class_weight'
    plain = P.loss_choice([0.7, 0.3]).value
    assert P.decision_choice(plain).value is None
    assert P.decision_choice([dict(type='TverskyLoss', class_weight=[1.0, 2.0])]).value is None


def test_weight_average_spans_a_quarter_of_the_run_from_half_way():
    c = P.weight_average_choice(2000)
    assert c.value == dict(type='WeightAverageHook', begin=0.5, span=0.25)
    assert 'momentum 0.002' in c.reason and 'iteration 1000' in c.reason
    with pytest.raises(PlanError):
        P.weight_average_choice(0)
    with pytest.raises(PlanError):
        P.weight_average_choice(100, share=0)
