"""``altair init DATA``: inspect a data folder, write a config that trains on it, print the
command. The folder becomes a :class:`~altair.datasets.data_plan.DataPlan` (``scene_plan`` or
``volume_plan``); this module adds the schedule (from timed steps) and the recipe's choices,
and ``altair.api.init_render`` writes the config."""
from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from altair.api.init_models import MODELS, base_file, base_text, model_receptive_field
from altair.api.init_render import VALIDATIONS, render
from altair.api.step_time import time_steps
from altair.datasets import plan
from altair.datasets.data_plan import DataPlan, InitOptionError, scene_plan
from altair.datasets.inspect import detect_layout
from altair.datasets.volume_plan import volume_plan
from altair.errors import renamed_keyword
from altair.fileio import write_text

__all__ = ['InitOptionError', 'InitResult', 'init', 'parse_duration', 'recipe']


@dataclass
class InitResult:
    """The config written, the command that trains it, its text, and the timed steps the
    schedule was planned from (None with ``iters``)."""
    config: Path
    command: str
    text: str
    timing: Any = None


DEFAULT_BATCH = 8  # with --iters and no --batch-size: no step is timed to plan the batch


def parse_duration(text: str) -> float:
    """Seconds of ``'90s'``, ``'10m'``, ``'1.5h'`` or a bare number of seconds.

    Raises:
        InitOptionError: anything else, or a duration that is not positive.
    """
    m = re.fullmatch(r'\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*', str(text))
    if not m or float(m.group(1)) <= 0:
        raise InitOptionError(f"time budget '{text}': expected a positive duration such as "
                              '600, 90s, 10m or 1.5h')
    return float(m.group(1)) * {'': 1, 's': 1, 'm': 60, 'h': 3600}[m.group(2)]


def init(data: str | os.PathLike, *, model: str = 'unet', file: str | os.PathLike | None = None,
         out_dir: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
         iters: int | None = None, time_budget: float | str | None = None,
         bands: Sequence[int | str] | None = None,
         nodata: float | None = None, class_field: str | None = None,
         class_name: str | None = None, unlabelled_outside: bool = False,
         crop_size: int | None = None, batch_size: int | None = None, force: bool = False,
         context: int | None = None, echo: bool = False) -> InitResult:
    """Inspect ``data`` and write a training config for it, planned from the data's
    statistics (``altair.datasets.plan``; the plan and its reasons are the config's header),
    to ``file``, else ``out_dir/altair_config.py``, else ``<data>/altair_config.py``, with the
    model's base config beside it. ``out`` is the former name of ``file`` (warns once).

    The length of training: ``iters``, or else a time budget (``time_budget`` seconds or a
    duration such as ``'10m'``; default ``plan.DEFAULT_TIME_BUDGET_S``): a few training steps
    and a validation window are timed on this machine, the batch is planned from the time
    per image, and ``max_iters`` fills the budget.

    Volumes are sliced along axis 2, with ``context`` slices on either side as more
    channels (default: 1 where the through-plane spacing is at most 3x the in-plane, else
    0; ``volume_plan.slice_context``); an nnU-Net raw dataset (``dataset.json`` +
    ``imagesTr/`` + ``labelsTr/``) gives one input channel per ``channel_names`` entry (a
    ``CT`` channel normalised by the foreground voxels' window) and lists its ``imagesTs/``
    cases as ``predict_cases``.

    Polygon labels with ``class_field`` carry each polygon's class; without it they are
    footprints: one class (``class_name``, default the labels file's name) inside them and
    ``background`` everywhere else in the image. ``unlabelled_outside``: pixels outside the
    polygons are unlabelled (ignored) rather than background, for sparse annotations.

    Raises:
        InitOptionError: an unknown model, ``file`` and ``out_dir`` both given, or an existing
            config without ``force``.
        DataLayoutError, DataError: the folder or its files (each message names the file).
    """
    if model not in MODELS:
        raise InitOptionError(f"unknown model '{model}'; choose one of {', '.join(MODELS)}")
    if (iters is not None and iters < 1) or (batch_size is not None and batch_size < 1):
        raise InitOptionError(f'iters ({iters}) and batch size ({batch_size}) must be >= 1')
    if iters is not None and time_budget is not None:
        raise InitOptionError('--iters and --time both set how long to train; give one')
    budget = (plan.DEFAULT_TIME_BUDGET_S if time_budget is None else
              parse_duration(time_budget) if isinstance(time_budget, str) else
              float(time_budget))
    if not budget > 0:
        raise InitOptionError(f'time budget {time_budget}: expected a positive duration')
    layout = detect_layout(data)
    file = renamed_keyword('out', out, 'file', file)
    if file is not None and out_dir is not None:
        raise InitOptionError('file and out_dir both say where the config goes; give one')
    out = (Path(file) if file is not None else Path(out_dir) / 'altair_config.py'
           if out_dir is not None else layout.root / 'altair_config.py')
    if out.exists() and not force:
        raise InitOptionError(f"config '{out}' exists; pass --force to overwrite it, or --file "
                              '(or --out) to write another')
    if layout.kind == 'volumes':
        data_plan = volume_plan(layout, crop_size=crop_size, context=context)
    else:
        field = None if crop_size else model_receptive_field(model)  # caps a planned crop
        data_plan = scene_plan(layout, bands=bands, nodata=nodata, class_field=class_field,
                               class_name=class_name, unlabelled_outside=unlabelled_outside,
                               crop_size=crop_size, receptive_field=field)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_name(base_file(model)), base_text(model))
    schedule, timing = _schedule(data_plan, model=model, out=out, iters=iters, budget=budget,
                                 batch_size=batch_size, echo=echo)
    text = render(data_plan, plan_choices(data_plan, schedule), model=model, out=out)
    write_text(out, text)
    command = f'altair train {shlex.quote(str(out))}'
    if echo:
        print(text)
        print(f'# wrote {out}\n# train it with:\n{command}', file=sys.stderr)
    return InitResult(out, command, text, timing)


def fixed_seconds(timing) -> float:
    """The part of a training's time that is not its steps: the validations and the
    start-up (building the model and data, starting the loader workers)."""
    return VALIDATIONS * timing.seconds_per_validation + timing.seconds_to_start


def _schedule(data: DataPlan, *, model: str, out: Path, iters: int | None, budget: float,
              batch_size: int | None, echo: bool) -> tuple[dict, Any]:
    """The batch and iteration choices, given or planned from timed steps (a config with
    the batch to time is written beside ``out`` and removed), and the timing (or None)."""
    if iters is not None:
        why = '--batch-size' if batch_size else 'the default (--iters given: no step timed)'
        return dict(batch_size=plan.Choice(batch_size or DEFAULT_BATCH, why),
                    iterations=plan.Choice(iters, '--iters')), None
    probe = out.with_name(f'.{out.stem}.timing.py')

    def timed(batch: int):
        schedule = dict(batch_size=plan.Choice(batch, 'timing'),
                        iterations=plan.Choice(plan.DEFAULT_ITERS, 'timing'))
        write_text(probe, render(data, plan_choices(data, schedule), model=model, out=probe))
        if echo:
            print(f'# timing training steps of batch {batch} on this machine ...',
                  file=sys.stderr)
        try:
            return time_steps(probe, echo=echo)
        finally:
            probe.unlink(missing_ok=True)

    timing = timed(batch_size or plan.MIN_BATCH)
    if batch_size:
        batch = plan.Choice(batch_size, '--batch-size')
    else:
        batch = plan.batch_size_for_budget(data.crop.value, bands=data.in_channels,
                                           seconds_per_image=timing.seconds_per_image,
                                           budget_seconds=budget)
        if batch.value != timing.batch_size:
            timing = timed(batch.value)
    iterations = plan.iterations_for_budget(
        timing.seconds_per_step, budget, fixed_seconds=fixed_seconds(timing))
    return dict(batch_size=batch, iterations=iterations), timing


def plan_choices(data: DataPlan, schedule: dict[str, plan.Choice]) -> dict[str, plan.Choice]:
    """Every choice of the training plan, in the order the config header lists them: the
    recipe's rules on the data's statistics, the crop, the ``schedule`` (batch and
    iterations), the augmentation, the weight averaging and the held-out blocks."""
    scenes = data.layout.kind != 'volumes'
    rules = recipe(data.classes.names, data.shares, scenes=scenes)
    choices = dict(loss=rules.pop('loss'), decision=rules.pop('decision'), crop=data.crop,
                   **schedule, **rules)
    if scenes:
        choices['augmentation'] = plan.augmentation_choice(data.layout.kind)
    choices['averaging'] = plan.weight_average_choice(schedule['iterations'].value)
    if data.validation is not None:
        choices['validation'] = data.validation
    return choices


def recipe(names: list[str], shares: list[float], *, scenes: bool) -> dict:
    """The training choices ``altair init`` derives from the data (``altair.datasets.plan``):
    ``{name: Choice}`` for the loss, how predictions are decided from the logits, the
    checkpoint metric, the precision, the memory format and (raster scenes:
    ``RasterSceneDataset`` draws them) the share of training windows centred on rare
    classes."""
    loss = plan.loss_choice(shares)
    out = dict(loss=loss, decision=plan.decision_choice(loss.value),
               checkpoint=plan.checkpoint_metric(names))
    if scenes:
        out['oversampling'] = plan.foreground_oversampling(
            shares, background=0 if len(names) == 2 else None)
    out['precision'] = plan.precision_choice()
    out['memory_format'] = plan.memory_format_choice()
    return out
