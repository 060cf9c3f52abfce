"""The training recipe ``altair init`` writes, planned from the data's statistics.

Each rule is a small pure function of measured statistics (class shares of the labelled
pixels, connected-object sizes, image sides, band count, a measured step time) that returns a
:class:`Choice`: the value and a one-line reason naming the statistic and the threshold that
decided it. ``altair init`` (``altair.api.init``) applies the rules and writes each choice's
line into the config header and onto the console.

The idea of planning from a data fingerprint is nnU-Net's (Isensee et al., "nnU-Net: a
self-configuring method for deep learning-based biomedical image segmentation", Nature Methods
18, 2021); the rules and thresholds below are ours, and each constant says where it comes from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from altair.datasets.objects import ObjectStats
from altair.errors import AltairError

# A class under this share of the labelled pixels is "rare": class-weighted cross-entropy and
# foreground oversampling start here (the "about 10 %": below it a class that the
# model never predicts still leaves pixel accuracy above 90 %, so the loss barely sees it).
RARE_SHARE = 0.10
# nnU-Net forces a third of each batch to hold foreground (its oversample_foreground_percent).
FOREGROUND_OVERSAMPLE = 1 / 3
# The crop holds this many of the large objects' diameters, so each object is seen whole with
# context around it (the Dice term and the decoder need the object's edges inside the crop).
CONTEXT_DIAMETERS = 4
# Total stride of the configs' encoders (SegFormer MiT, UNet s4): crops are multiples of it.
CROP_MULTIPLE = 32
MIN_CROP, MAX_CROP = 64, 512
# A crop past this many receptive fields adds pixels that see the same context as those
# already in it: at a fixed cost per step, more, smaller crops give a more varied batch.
RECEPTIVE_FIELDS = 2
DEFAULT_CROP = 256  # when no object was measured: what `altair init` wrote before this plan
# Training memory per input pixel and band, model and optimiser included: mmseg's metafile
# gives SegFormer MiT-B0 2.1 GB per GPU for 2 images of 512 x 512 x 3 bands (1.34 kB), and
# 3.64 GB for one 1024 x 1024 x 3 image (1.16 kB); rounded up.
BYTES_PER_PIXEL_BAND = 1400
DEFAULT_MEMORY_BUDGET = 4 * 1024 ** 3  # bytes: what a laptop spares for training next to the OS
MIN_BATCH, MAX_BATCH = 2, 16  # batch norm needs 2; beyond 16 a step mostly costs more time
# The time budget never cuts the batch below this: batch norm's statistics degrade quickly
# below about 8 images per batch (Wu & He, "Group Normalization", ECCV 2018, Fig. 1), and
# every model of `altair init` normalises by batch. Only the memory budget cuts further.
NORM_BATCH = 8
DEFAULT_TIME_BUDGET_S = 720.0  # twelve minutes of CPU training: a first model while you wait
# Fewer than MIN_ITERS leaves the warm-up (iters // 12) and four validations with too little
# between them; MAX_ITERS is mmseg's longest standard schedule (160k).
MIN_ITERS, MAX_ITERS = 100, 160_000
DEFAULT_ITERS = 600  # when no step was timed: the short configs' schedule
# The batch is cut so that the time budget still holds this many optimiser steps: the
# warm-up (1/12) and the poly decay of the schedule need a few hundred; the short configs
# train 600.
MIN_STEPS = 500
# The weights are averaged (exponentially) over about this share of the iterations, from
# the second half of training on: long enough to average out the step noise of the short
# schedule, short enough to forget the weights of the first half.
AVERAGE_SHARE = 0.25
# Random block splits tried for the one most representative of every class (a few hundred
# cost milliseconds on the decimated labels).
VAL_DRAWS = 256


class PlanError(AltairError, ValueError):
    """Statistics a plan cannot be made from (no labelled pixel, a negative share, ...)."""


@dataclass(frozen=True)
class Choice:
    """One planned setting: ``value``, and a one-line ``reason`` that names what decided it.

    ``summary`` is the value as the reason line shows it, where ``value`` is long (loss dicts).
    """
    value: Any
    reason: str
    summary: str | None = None

    def line(self, name: str) -> str:
        shown = self.summary if self.summary is not None else repr(self.value)
        return f'{name}: {shown} -- {self.reason}'


def _check_shares(shares: Sequence[float]) -> np.ndarray:
    s = np.asarray(shares, dtype=float)
    if s.ndim != 1 or s.size < 2 or not np.isfinite(s).all() or (s < 0).any() or s.sum() <= 0:
        raise PlanError(f'class shares {list(shares)} are not shares of labelled pixels: '
                        'expected one non-negative number per class (2 or more), not all 0')
    return s / s.sum()


def rare_classes(shares: Sequence[float], *, threshold: float = RARE_SHARE,
                 exclude: int | None = None) -> list[int]:
    """Indices of the classes present with a share of the labelled pixels under
    ``threshold`` (absent classes, share 0, are not counted; ``exclude`` is left out).

    ``shares`` may be counts: they are normalised to sum to 1.
    """
    s = _check_shares(shares)
    return [i for i, v in enumerate(s) if 0 < v < threshold and i != exclude]


def _pct(value: float) -> str:
    return f'{100 * value:.3g} %'


def loss_choice(shares: Sequence[float], *, threshold: float = RARE_SHARE) -> Choice:
    """Cross-entropy + Dice (nnU-Net's default loss), the cross-entropy class-weighted
    (``class_weight='auto'``, median frequency from the training masks) where a class is rare.

    The Dice term is mmseg's ``TverskyLoss`` with ``alpha = beta = 0.5`` (per-class soft Dice
    averaged over the classes, as configs/segformer/*dice-ce*.py writes it).

    Returns:
        A Choice whose value is the decode head's ``loss_decode`` list of loss config dicts.
    """
    s = _check_shares(shares)
    rare = rare_classes(s, threshold=threshold)
    ce = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, loss_name='loss_ce')
    if rare:
        ce.update(type='AutoWeightCrossEntropyLoss', class_weight='auto')
    dice = dict(type='TverskyLoss', alpha=0.5, beta=0.5, smooth=1.0, loss_weight=1.0,
                loss_name='loss_dice')
    rarest = min((i for i in range(len(s)) if s[i] > 0), key=lambda i: s[i])
    if rare:
        why = (f'class {rarest} has {_pct(s[rarest])} of the labelled pixels (< '
               f"{_pct(threshold)}): cross-entropy weighted by class_weight='auto', + Dice")
        return Choice([ce, dice], why, "Dice + CE, class_weight='auto'")
    why = (f'the rarest class ({rarest}) has {_pct(s[rarest])} of the labelled pixels (>= '
           f"{_pct(threshold)}): unweighted cross-entropy + Dice (nnU-Net's default)")
    return Choice([ce, dice], why, 'Dice + CE')


def decision_choice(loss: Sequence[Mapping]) -> Choice:
    """How predictions are decided from the logits: where the cross-entropy is
    class-weighted, the log of its weights comes off the logits at inference
    (``model.test_cfg.adjust_logits='class_weight'``, post-hoc logit adjustment): the weights
    make the rare classes learnt, but with a median-frequency weight some 50 times the
    background's, the plain argmax predicts a rare class wherever its probability passes
    about 1/50, and its precision (so its IoU) suffers. Unweighted: the argmax as it is."""
    weighted = any(item.get('class_weight') is not None for item in loss
                   if 'CrossEntropy' in str(item.get('type', '')))
    if weighted:
        return Choice('class_weight', 'the cross-entropy is class-weighted: at inference '
                      'log(class weight) comes off the logits, so the argmax follows '
                      'p(class | pixel) and not the weights (Menon et al. 2021)',
                      'logits - log(class weight)')
    return Choice(None, 'the cross-entropy is unweighted: the argmax of the logits', 'argmax')


def _foreground(sizes: Mapping[int, ObjectStats], background: int | None) -> dict:
    return {c: s for c, s in sizes.items() if c != background and s.count > 0}


def crop_size(sizes: Mapping[int, ObjectStats], *, min_side: int,
              background: int | None = None, receptive_field: int | None = None) -> Choice:
    """The training crop side: ``CONTEXT_DIAMETERS`` x the largest 90th-percentile object
    diameter of the non-background classes, rounded up to ``CROP_MULTIPLE``, clamped to
    ``[MIN_CROP, MAX_CROP]``, to ``RECEPTIVE_FIELDS`` x the model's receptive field (None:
    unbounded, as with global attention) and to the smallest image side.

    Small objects get a small crop on purpose: a step costs about crop^2, so a 64-pixel crop
    that still holds several whole objects with context gives some 16 times the steps of a
    256-pixel one in the same time, and more varied batches. Objects larger than the model
    sees add no context it can use, hence the receptive-field cap. ``DEFAULT_CROP`` where no
    object was measured.
    """
    if min_side < 1:
        raise PlanError(f'smallest image side {min_side} must be >= 1')
    if receptive_field is not None and receptive_field < 1:
        raise PlanError(f'receptive field {receptive_field} must be >= 1 pixel')
    fg = _foreground(sizes, background)
    if fg:
        cls = max(fg, key=lambda c: fg[c].p90_diameter)
        d = fg[cls].p90_diameter
        want = _round_up(CONTEXT_DIAMETERS * d)
        crop = min(max(want, MIN_CROP), MAX_CROP)
        why = (f'{CONTEXT_DIAMETERS} x the 90th-percentile object diameter ({d:.1f} px, class '
               f'{cls}) = {want}, clamped to {MIN_CROP}..{MAX_CROP}')
    else:
        crop, why = DEFAULT_CROP, 'no object measured: the default crop'
    if receptive_field is not None:
        cap = max(_round_up(RECEPTIVE_FIELDS * receptive_field), MIN_CROP)
        if crop > cap:
            crop = cap
            why += (f'; cut to {RECEPTIVE_FIELDS} x the model\'s receptive field '
                    f'({receptive_field} px)')
    limit = CROP_MULTIPLE * (min_side // CROP_MULTIPLE) if min_side >= CROP_MULTIPLE else min_side
    if crop > limit:
        crop = limit
        why += f'; cut to the smallest image side ({min_side} px)'
    return Choice(crop, why, f'{crop} x {crop}')


def _round_up(px: float) -> int:
    """``px`` rounded up to a multiple of ``CROP_MULTIPLE``."""
    return CROP_MULTIPLE * math.ceil(px / CROP_MULTIPLE)


def batch_size_for_memory(crop: int, *, bands: int,
                          budget_bytes: float = DEFAULT_MEMORY_BUDGET,
                          bytes_per_pixel_band: float = BYTES_PER_PIXEL_BAND) -> Choice:
    """The largest batch with ``bytes_per_pixel_band * bands * crop^2 * batch <= budget``,
    clamped to ``[MIN_BATCH, MAX_BATCH]`` (the lower clamp may pass the budget; the reason
    says so)."""
    if crop < 1 or bands < 1 or budget_bytes <= 0 or bytes_per_pixel_band <= 0:
        raise PlanError(f'crop {crop}, bands {bands}, budget {budget_bytes} and bytes per '
                        f'pixel {bytes_per_pixel_band} must all be positive')
    per_image = bytes_per_pixel_band * bands * crop * crop
    fit = int(budget_bytes // per_image)
    batch = min(max(fit, MIN_BATCH), MAX_BATCH)
    why = (f'{per_image / 2 ** 20:.0f} MiB per {crop}^2 x {bands}-band image in a '
           f'{budget_bytes / 2 ** 30:.3g} GiB budget fits {fit}, clamped to '
           f'{MIN_BATCH}..{MAX_BATCH}')
    if fit < MIN_BATCH:
        why += ' (over the budget: lower the crop or raise the budget)'
    return Choice(batch, why)


def batch_size_for_budget(crop: int, *, bands: int, seconds_per_image: float,
                          budget_seconds: float = DEFAULT_TIME_BUDGET_S,
                          memory_bytes: float = DEFAULT_MEMORY_BUDGET,
                          min_steps: int = MIN_STEPS,
                          bytes_per_pixel_band: float = BYTES_PER_PIXEL_BAND) -> Choice:
    """The largest batch that leaves at least ``min_steps`` optimiser steps in the time
    budget, given a measured training time per image at this crop, but no smaller than
    ``NORM_BATCH`` (a slow machine gets fewer steps of a batch that batch norm can use, not
    more steps of one it cannot); then cut to what the memory budget holds
    (:func:`batch_size_for_memory`); clamped to ``[MIN_BATCH, MAX_BATCH]``.

    On a CPU the time budget binds first: a step costs about its batch's pixels, so a larger
    batch only trades steps for images per step, and the schedule needs steps.
    """
    if not seconds_per_image > 0 or not budget_seconds > 0 or min_steps < 1:
        raise PlanError(f'time per image {seconds_per_image} s, budget {budget_seconds} s and '
                        f'min_steps {min_steps} must be positive')
    memory = batch_size_for_memory(crop, bands=bands, budget_bytes=memory_bytes,
                                   bytes_per_pixel_band=bytes_per_pixel_band)
    mem_fit = int(memory_bytes // (bytes_per_pixel_band * bands * crop * crop))
    time_fit = int(budget_seconds // (min_steps * seconds_per_image))
    by_time = min(max(time_fit, NORM_BATCH), MAX_BATCH)
    batch = max(min(by_time, mem_fit), MIN_BATCH)
    why = (f'{min_steps} steps of {seconds_per_image:.3g} s per {crop}^2 image in '
           f'{budget_seconds / 60:.3g} min fit {time_fit} per step')
    if time_fit < NORM_BATCH:
        why += (f', raised to {NORM_BATCH} (batch norm degrades below {NORM_BATCH} images: '
                'fewer steps instead)')
    why += f'; memory fits {mem_fit}; clamped to {MIN_BATCH}..{MAX_BATCH}'
    if batch == memory.value and mem_fit < by_time:
        why = memory.reason + f'; the time budget fits {time_fit}'
    return Choice(batch, why)


def iterations_for_budget(seconds_per_iteration: float,
                          budget_seconds: float = DEFAULT_TIME_BUDGET_S, *,
                          fixed_seconds: float = 0.0,
                          min_iters: int = MIN_ITERS, max_iters: int = MAX_ITERS) -> Choice:
    """The most iterations of a measured step that fit in ``budget_seconds`` (default: ten
    minutes of training on the CPU) less ``fixed_seconds`` (start-up and the validations during
    training), clamped to ``[min_iters, max_iters]``."""
    if (not seconds_per_iteration > 0 or not budget_seconds > 0 or not fixed_seconds >= 0
            or not 1 <= min_iters <= max_iters):
        raise PlanError(f'step time {seconds_per_iteration} s and budget {budget_seconds} s '
                        f'must be positive, fixed time {fixed_seconds} s >= 0, and 1 <= '
                        f'min_iters ({min_iters}) <= max_iters ({max_iters})')
    room = max(budget_seconds - fixed_seconds, 0.0)
    fit = int(room // seconds_per_iteration)
    # `//` is exact, the product is rounded: agree with the product, which is what is checked
    while fit > 0 and fit * seconds_per_iteration > room:
        fit -= 1
    while (fit + 1) * seconds_per_iteration <= room:
        fit += 1
    iters = min(max(fit, min_iters), max_iters)
    spent = f' less {fixed_seconds:.3g} s of start-up and validation' if fixed_seconds else ''
    why = (f'{budget_seconds / 60:.3g} min budget{spent} / {seconds_per_iteration:.3g} s per '
           f'measured step = {fit}, clamped to {min_iters}..{max_iters}')
    if fit < min_iters:
        why += (f' (about {(iters * seconds_per_iteration + fixed_seconds) / 60:.3g} min, over '
                'the budget)')
    return Choice(iters, why)


def stratified_blocks(counts: np.ndarray, *, val_fraction: float, draws: int = VAL_DRAWS,
                      seed: int = 0) -> Choice:
    """The blocks to hold out for validation: ``round(val_fraction x n)`` of the ``n``
    blocks holding labelled pixels, the one of ``draws`` seeded random draws whose held-out
    share of each present class is closest to ``val_fraction`` (mean absolute difference
    over the classes), so that a rare class is measured on its fair share of pixels rather
    than on whatever one random draw leaves (as scikit-learn's stratified splits do for
    samples).

    Args:
        counts: ``altair.datasets.objects.block_class_counts``.

    Returns:
        A Choice whose value is ``[(block row, block col), ...]`` (``val_blocks`` of a
        ``RasterSceneDataset`` split).
    """
    if counts.ndim != 3 or not 0 < val_fraction < 1 or draws < 1:
        raise PlanError(f'block counts of shape {counts.shape} (expected rows x cols x '
                        f'classes), val fraction {val_fraction} (0..1), draws {draws} (>= 1)')
    labelled = np.flatnonzero(counts.sum(-1).ravel() > 0)
    if len(labelled) < 2:
        raise PlanError(f'{len(labelled)} block(s) hold labelled pixels: a block split needs 2')
    per_block = counts.reshape(-1, counts.shape[-1])[labelled].astype(float)
    totals = per_block.sum(0)
    present = totals > 0
    n_val = max(1, round(val_fraction * len(labelled)))
    rng = np.random.default_rng(seed)
    best, best_cost = None, math.inf
    for _ in range(draws):
        pick = rng.permutation(len(labelled))[:n_val]
        shares = per_block[pick].sum(0)[present] / totals[present]
        cost = float(np.abs(shares - val_fraction).mean())
        if cost < best_cost - 1e-12:
            best, best_cost = pick, cost
    shape = counts.shape[1]
    blocks = sorted((int(labelled[i] // shape), int(labelled[i] % shape)) for i in best)
    held = per_block[best].sum(0)
    rarest = int(np.argmin(np.where(present, totals, np.inf)))
    return Choice(blocks, f'{n_val} of the {len(labelled)} labelled blocks, the best of {draws} '
                  f'seeded draws: they hold {_pct(held.sum() / totals.sum())} of the labelled '
                  f'pixels and {_pct(held[rarest] / totals[rarest])} of the rarest class\'s '
                  f'({rarest}), against {_pct(val_fraction)} asked',
                  f'{n_val} blocks {blocks}')


def checkpoint_metric(classes: Sequence[str], *, background: int = 0) -> Choice:
    """The validation metric the best checkpoint is chosen by: the foreground class's IoU
    (``IoU.<name>``, the key ``ClassIoUMetric`` returns) for a binary task, else ``mIoU``.

    Use it with ``rule='greater'`` (see :func:`checkpoint_hook_args`): mmengine's
    ``CheckpointHook`` infers the rule from the key's name and knows ``mIoU`` but not
    ``IoU.<name>``.
    """
    if len(classes) < 2:
        raise PlanError(f'classes {list(classes)}: a segmentation task needs 2 or more')
    if len(classes) == 2:
        if background not in (0, 1):
            raise PlanError(f'background {background} of a binary task must be 0 or 1')
        name = classes[1 - background]
        return Choice(f'IoU.{name}', f"binary task: the foreground's IoU ({name}); mIoU would "
                      'average in the background IoU, near 100 and slow to move')
    return Choice('mIoU', f'{len(classes)} classes: the mean IoU over all of them')


def checkpoint_hook_args(metric: str) -> dict:
    """``CheckpointHook`` keywords that keep the best checkpoint by ``metric`` (higher is
    better)."""
    return dict(save_best=metric, rule='greater')


def foreground_oversampling(shares: Sequence[float], *, background: int | None = None,
                            threshold: float = RARE_SHARE) -> Choice:
    """The share of training windows drawn to hold a rare class (``FOREGROUND_OVERSAMPLE``,
    nnU-Net's third) and those classes; share 0 when no class but ``background`` is rare.

    Returns:
        A Choice whose value is ``dict(fraction=..., classes=[...])``.
    """
    rare = rare_classes(shares, threshold=threshold, exclude=background)
    if not rare:
        return Choice(dict(fraction=0.0, classes=[]),
                      f'no class under {_pct(threshold)} of the labelled pixels: windows drawn '
                      'uniformly', 'off')
    frac = FOREGROUND_OVERSAMPLE
    return Choice(dict(fraction=frac, classes=rare),
                  f'classes {rare} under {_pct(threshold)} of the labelled pixels: '
                  f"{frac:.2g} of the windows hold one (nnU-Net's share)",
                  f'{frac:.2g} of windows, classes {rare}')


FLIPS = dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical'])


def augmentation_choice(layout_kind: str) -> Choice:
    """The training augmentation: for GeoTIFF scenes (overhead views, where no direction is
    up) the ``overhead`` preset (the 8 rotations and mirrors, +-25 % scale; the values are
    left as measured, since a pixel's spectrum often decides its class); for other images
    horizontal and vertical flips, which keep most photographs and slices plausible.

    Returns:
        A Choice whose value is the train pipeline step (a transform config dict).
    """
    if layout_kind == 'scenes':
        return Choice(dict(type='AugPreset', name='overhead'),
                      'overhead scenes have no up: the 8 rotations and mirrors (D4) and +-25 % '
                      'scale, pixel values untouched (preset overhead)', "preset 'overhead'")
    return Choice(FLIPS, f'{layout_kind}: horizontal and vertical flips', 'flips')


def memory_format_choice() -> Choice:
    """Channels-last weights and activations (``ChannelsLastHook``): what oneDNN's CPU
    convolutions and tensor cores compute in, so no layer reorders its input."""
    return Choice('ChannelsLastHook', "channels-last (NHWC) model: the layout oneDNN's CPU "
                  'convolutions and GPU tensor cores compute in', 'channels-last')


def weight_average_choice(iters: int, *, share: float = AVERAGE_SHARE) -> Choice:
    """An exponential moving average of the weights over about ``share`` of the run, from
    half-way (``WeightAverageHook``, mmengine's ``EMAHook`` with momentum
    ``1 / (share * max_iters)``): validation, checkpoints and prediction use the averaged
    weights. In a schedule of a few hundred to a few thousand steps the last steps still move
    the weights enough that two validations a quarter of the run apart differ by points; the
    average is a model the steps circle around (Polyak & Juditsky 1992; Izmailov et al.
    2018). ``iters`` only words the reason; the hook takes the shares of the actual run."""
    if iters < 1 or not 0 < share <= 1:
        raise PlanError(f'iterations {iters} must be >= 1 and share {share} in (0, 1]')
    hook = dict(type='WeightAverageHook', begin=0.5, span=share)
    momentum = min(1.0, 1.0 / (share * iters))
    return Choice(hook, f'an exponential average of the weights over about the last '
                  f'{share:.0%} of the {iters} iterations (momentum {momentum:.3g}, from '
                  f'iteration {iters // 2}); validation, checkpoints and prediction use it',
                  f'EMA from iteration {iters // 2}')


def precision_choice() -> Choice:
    """``'auto'``: bf16 autocast where it is native, fp32 elsewhere, fp16 never implicitly
    (``AutocastOptimWrapper(dtype='auto')``, as the short configs train)."""
    return Choice('auto', 'bf16 autocast where native (AVX512-BF16/AMX CPU, bf16 GPU), fp32 '
                  'elsewhere; fp16 never implicitly')
