"""``altair init DATA``: inspect a data folder, write a config that trains on it, print the
command. The inspection is ``altair.datasets.inspect``; this module only composes the text."""
from __future__ import annotations

import datetime
import functools
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from altair.api.config_source import (class_summary, comment_text, data_root_source, floor32,
                                      literal, rel_path)
from altair.api.init_volume import volume_loader_lines, volume_sections
from altair.api.step_time import time_steps
from altair.datasets import plan
from altair.datasets.inspect import (BandStats, Classes, Layout, check_class_names,
                                     check_label_values, class_index_map, detect_layout,
                                     image_stats, infer_classes, label_counts, label_shares,
                                     object_stats)
from altair.errors import AltairError
from altair.fileio import write_text
from altair.models.receptive_field import receptive_field
from altair.raster.vector import is_vector, vector_fields
from altair.registry import MODELS as REGISTRY
from altair.version import __version__

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
# --model NAME -> (model base config, optimizer, backbone overrides). See the README table
# "which architecture for which object size".
# output stride 16 for the ResNet models, as the short configs (2.7x less compute than d8)
_D16 = 'strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), '
MODELS = {
    'unet': ('_base_/models/unet_s4-c32.py', 'sgd_nnunet', ''),
    'pspnet': ('_base_/models/pspnet_r18-d8.py', 'sgd', _D16),
    'deeplabv3plus': ('_base_/models/deeplabv3plus_r18-d8.py', 'sgd', _D16),
    'segformer': ('_base_/models/segformer_mit-b0.py', 'adamw', ''),
}
OPTIMIZERS = {
    'sgd': "dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)",
    # nnU-Net's optimiser for a U-Net trained from scratch (Isensee et al. 2021), with its
    # gradient clipping (CLIP_GRAD)
    'sgd_nnunet': "dict(type='SGD', lr=0.01, momentum=0.99, nesterov=True, weight_decay=3e-5)",
    'adamw': "dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01)",
}


CLIP_GRAD = {'sgd_nnunet': dict(max_norm=12.0)}


@functools.lru_cache(maxsize=None)
def model_receptive_field(model: str) -> int | None:
    """The receptive field in pixels of ``--model``'s network (built untrained, batch norm in
    eval mode), measured on a probe just over ``MAX_CROP / RECEPTIVE_FIELDS``: None where it
    reaches past that, so the crop cap it sets could not bind."""
    import torch
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    cfg = Config.fromfile(str(CONFIGS / MODELS[model][0]))
    with DefaultScope.overwrite_default_scope('altair'):
        net = revert_sync_batchnorm(REGISTRY.build(cfg.model)).eval()
    size = plan.MAX_CROP // plan.RECEPTIVE_FIELDS + plan.CROP_MULTIPLE
    with torch.enable_grad():
        return receptive_field(lambda x: net(x, mode='tensor'), size=size,
                               in_channels=cfg.model.backbone.get('in_channels', 3))


def base_file(model: str) -> str:
    """The file beside a config ``altair init`` writes that holds its model's base config and
    the default runtime, merged (so the config resolves wherever the folder moves)."""
    return f'altair_base_{model}.py'


def base_text(model: str) -> str:
    """``configs/<model base>`` and ``configs/_base_/default_runtime.py`` merged by mmengine,
    as one config's source."""
    from mmengine.config import Config
    with tempfile.TemporaryDirectory() as tmp:
        stub = Path(tmp) / 'stub.py'
        stub.write_text('_base_ = [' + ', '.join(repr(str(CONFIGS / name)) for name in
                                                (MODELS[model][0], '_base_/default_runtime.py'))
                        + ']\n')
        merged = Config.fromfile(str(stub))
    return (f'# {MODELS[model][0]} and _base_/default_runtime.py of Altair {__version__}, '
            'merged by `altair init`\n# for the config beside this file. Edit that one.\n'
            + merged.pretty_text)


class InitOptionError(AltairError, ValueError):
    """An ``altair init`` option outside what it accepts."""


@dataclass
class InitResult:
    """The config written, the command that trains it, its text, and the timed steps the
    schedule was planned from (None with ``iters``)."""
    config: Path
    command: str
    text: str
    timing: Any = None


# validations during training: every ceil(max_iters / 4) iterations, the last at the end
VALIDATIONS = 4
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


def init(data: str | os.PathLike, *, model: str = 'unet', out: str | os.PathLike | None = None,
         iters: int | None = None, time_budget: float | str | None = None,
         bands: Sequence[int | str] | None = None,
         nodata: float | None = None, class_field: str | None = None,
         class_name: str | None = None, unlabelled_outside: bool = False,
         crop_size: int | None = None, batch_size: int | None = None, force: bool = False,
         echo: bool = False) -> InitResult:
    """Inspect ``data`` and write a training config for it (``<data>/altair_config.py`` by
    default), planned from the data's statistics (``altair.datasets.plan``; the plan and
    its reasons are the config's header).

    The length of training: ``iters``, or else a time budget (``time_budget`` seconds or a
    duration such as ``'10m'``; default ``plan.DEFAULT_TIME_BUDGET_S``): a few training steps
    and a validation window are timed on this machine, the batch is planned from the time
    per image, and ``max_iters`` fills the budget.

    Polygon labels with ``class_field`` carry each polygon's class; without it they are
    footprints: one class (``class_name``, default the labels file's name) inside them and
    ``background`` everywhere else in the image. ``unlabelled_outside``: pixels outside the
    polygons are unlabelled (ignored) rather than background, for sparse annotations.

    Raises:
        InitOptionError: an unknown model, or an existing ``out`` without ``force``.
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
    out = Path(out) if out is not None else layout.root / 'altair_config.py'
    if out.exists() and not force:
        raise InitOptionError(f"config '{out}' exists; pass --force to overwrite it or --out "
                              'to write another')
    if layout.kind == 'volumes':
        sections, summary = volume_sections(layout, crop_size=crop_size)
    else:
        sections, summary = _scene_sections(layout, bands=bands, nodata=nodata,
                                            class_field=class_field, class_name=class_name,
                                            unlabelled_outside=unlabelled_outside,
                                            crop_size=crop_size, model=model)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_name(base_file(model)), base_text(model))
    schedule, timing = _schedule(layout, model=model, out=out, sections=sections,
                                 summary=summary, iters=iters, budget=budget,
                                 batch_size=batch_size, echo=echo)
    text = _compose(layout, model=model, out=out, sections=sections, summary=summary,
                    schedule=schedule)
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


def _schedule(layout: Layout, *, model: str, out: Path, sections: dict, summary: list[str],
              iters: int | None, budget: float, batch_size: int | None,
              echo: bool) -> tuple[dict, Any]:
    """The batch and iteration choices, given or planned from timed steps (a config with
    the batch to time is written beside ``out`` and removed), and the timing (or None)."""
    if iters is not None:
        sections['batch_size'] = batch_size or DEFAULT_BATCH
        why = '--batch-size' if batch_size else 'the default (--iters given: no step timed)'
        return dict(batch_size=plan.Choice(sections['batch_size'], why),
                    iterations=plan.Choice(iters, '--iters')), None
    probe = out.with_name(f'.{out.stem}.timing.py')

    def timed(batch: int):
        sections['batch_size'] = batch
        schedule = dict(iterations=plan.Choice(plan.DEFAULT_ITERS, 'timing'))
        write_text(probe, _compose(layout, model=model, out=probe, sections=sections,
                                   summary=summary, schedule=schedule))
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
        batch = plan.batch_size_for_budget(sections['crop'], bands=sections['in_channels'],
                                           seconds_per_image=timing.seconds_per_image,
                                           budget_seconds=budget)
        if batch.value != timing.batch_size:
            timing = timed(batch.value)
    sections['batch_size'] = batch.value
    iterations = plan.iterations_for_budget(
        timing.seconds_per_step, budget, fixed_seconds=fixed_seconds(timing))
    return dict(batch_size=batch, iterations=iterations), timing


def _scene_sections(layout: Layout, *, bands, nodata, class_field, class_name,
                    unlabelled_outside, crop_size, model) -> tuple[dict, list[str]]:
    pairs = layout.pairs
    vector = any(p.ann and is_vector(p.ann) for p in pairs)
    footprints = vector and class_field is None
    if class_name is not None and not footprints:
        raise InitOptionError('--class-name names the one class of polygon footprints (vector '
                              'labels without --class-field); these labels are not footprints')
    if footprints and unlabelled_outside:
        raise InitOptionError('--unlabelled-outside leaves footprints (polygons without '
                              '--class-field) one class and nothing to tell it from: give '
                              '--class-field, or drop --unlabelled-outside to make the rest '
                              'of the image background')
    stats = image_stats([p.img for p in pairs], bands=list(bands) if bands else None,
                        nodata=nodata)
    maps: list = []
    if footprints:
        counts = label_counts(pairs, footprints=(1, 0), maps=maps)
        classes = (infer_classes(counts, layout.sidecar) if layout.sidecar else
                   footprint_classes(pairs, class_name))
    else:
        counts = label_counts(pairs, class_field=class_field, maps=maps)
        classes = infer_classes(counts, layout.sidecar)
    for pair in pairs[:64]:
        check_label_values(pair, classes)
    min_side = min(min(s) for s in stats.sizes)
    few = len(pairs) < 5
    # with few images, training and validation windows come from blocks of each image: the
    # crop leaves at least 4 blocks along the shorter side
    side = floor32(min_side / 4) if few else min_side
    background = 0 if len(classes.names) == 2 else None
    crop_choice = (plan.crop_size(object_stats(maps, classes, background=background),
                                  min_side=side, background=background,
                                  receptive_field=model_receptive_field(model))
                   if crop_size is None else plan.Choice(crop_size, '--crop'))
    crop = min(crop_choice.value, min_side)
    block = max(2 * crop, floor32(min_side / 4)) if few else None
    val_side = None if max(max(s) for s in stats.sizes) <= 1024 and not few else (
        min(2 * crop, block) if few else 512)
    val_window = None if val_side is None else (val_side, val_side)
    root = layout.root.resolve()
    given = {p.split for p in pairs}
    if given >= {'train', 'val'}:
        scenes = {s: [dict(img=rel_path(p.img, root), ann=rel_path(p.ann, root)) for p in pairs
                      if p.split == s] for s in ('train', 'val')}
        split = None
    else:
        scenes = {s: [dict(img=rel_path(p.img, root), ann=rel_path(p.ann, root)) for p in pairs]
                  for s in ('train', 'val')}
        split = (dict(by='block', block_size=block, val_fraction=0.25 if len(pairs) == 1
                      else 0.2, seed=0) if few else dict(by='scene', val_fraction=0.2, seed=0))
    split_choice = None
    if split is not None and split['by'] == 'block' and len(pairs) == 1 and maps:
        # one scene: the held-out blocks hold a fair share of every class
        counts_by_block = plan.block_class_counts(
            class_index_map(maps[0], classes), block=block, factor=maps[0].factor,
            num_classes=len(classes.names))
        try:
            split_choice = plan.stratified_blocks(counts_by_block,
                                                  val_fraction=split['val_fraction'])
            split['val_blocks'] = split_choice.value
        except plan.PlanError:  # labels in one block only: the random draw, as before
            split_choice = None
    opts = dict(bands=list(bands) if bands else None, nodata=stats.nodata,
                label_values=classes.mapping())
    if footprints:  # class 1 inside the polygons, background (0) elsewhere in the image
        opts.update(footprint_class=1, vector_fill=0)
    elif vector:
        lower = [n.lower() for n in classes.names]
        fill = lower.index('background') if 'background' in lower else None
        opts.update(class_field=class_field,
                    vector_fill=None if unlabelled_outside else fill)
    sections = dict(
        classes=classes, stats=stats, crop=crop, crop_choice=crop_choice,
        split_choice=split_choice,
        in_channels=stats.count,
        dataset_opts={k: v for k, v in opts.items() if v is not None},
        scenes=scenes, split=split, val_window=val_window,
        root=str(root),
        load="dict(type='LoadRaster', fill=mean)")
    shares = label_shares(counts, classes)
    sections['shares'] = shares
    nd = ('none' if stats.nodata is None else
          f'{stats.nodata:g} (inferred from the all-{stats.nodata:g} border)'
          if stats.nodata_inferred else f'{stats.nodata:g}')
    summary = [
        f'{len(pairs)} image(s) {_sizes(stats.sizes)}, {stats.count} band(s) {stats.dtype}, '
        f'nodata {nd}, {100 * stats.valid_fraction:.1f}% valid pixels',
        class_summary(classes, shares, 'pixels' if footprints or not vector else
                      'polygon pixels'),
        *([footprint_line(pairs, classes)] if footprints else []),
        f'per-band mean {stats.mean}, std {stats.std}',
        f'crop {crop}x{crop}; split: ' + ('the train/val folders' if split is None else
                                        f"{split['by']}s, {int(100 * split['val_fraction'])}% "
                                        'held out' + (f", blocks of {block} px" if block else '')),
    ]
    return sections, summary


def footprint_line(pairs, classes: Classes) -> str:
    """What footprint mode did, and the attributes a class could come from instead."""
    fields = sorted({f for p in pairs if p.ann and is_vector(p.ann)
                     for f in vector_fields(p.ann)['fields']})
    hint = (f"; the polygons' attributes ({', '.join(fields[:6])}) could give one class per "
            'value: --class-field NAME' if fields else '')
    return (f'polygons without --class-field: footprints, {classes.names[1]!r} inside, '
            f'background elsewhere in the image{hint}')


# words of a label file's name that say nothing of what its polygons are
_GENERIC = re.compile(r'[_-]?(labels?|annotations?|polygons|footprints|masks?|vectors|gt)$')


def footprint_classes(pairs, class_name: str | None) -> Classes:
    """``background`` and the footprints' class: ``class_name``, else what the labels files'
    name says (``buildings.geojson`` or ``buildings_labels.gpkg`` -> ``buildings``; names
    that say nothing, such as ``labels.geojson`` or ``scene1_labels.shp`` beside
    ``scene1.tif``, and files that disagree -> ``foreground``).

    Raises:
        DataError: a class name holding a line break or control character.
    """
    if class_name is None:
        names = set()
        for p in pairs:
            stem = _GENERIC.sub('', Path(p.ann).stem.lower()) if p.ann else ''
            names.add('' if stem == Path(p.img).stem.lower() else stem)
        class_name = names.pop() if len(names) == 1 else ''
        class_name = class_name or 'foreground'
        source = 'the labels file name'
    else:
        source = '--class-name'
    check_class_names([class_name], source)
    return Classes(['background', class_name], [0, 1])


def _sizes(sizes: list[tuple[int, int]]) -> str:
    hs, ws = [s[0] for s in sizes], [s[1] for s in sizes]
    if len(set(sizes)) == 1:
        return f'of {ws[0]}x{hs[0]}'
    return f'of {min(ws)}-{max(ws)} x {min(hs)}-{max(hs)}'


def _compose(layout: Layout, *, model: str, out: Path, sections: dict, summary: list[str],
             schedule: dict) -> str:
    from mmengine.config import Config

    base_model, optim, backbone = MODELS[model]
    base_cfg = Config.fromfile(str(CONFIGS / base_model))
    has_aux = base_cfg.model.get('auxiliary_head') is not None
    classes: Classes = sections['classes']
    stats: BandStats | None = sections.get('stats')
    crop = sections['crop']
    iters = schedule['iterations'].value
    choices = recipe(classes.names, sections['shares'], scenes='volume_lines' not in sections)
    choices = dict(loss=choices.pop('loss'), decision=choices.pop('decision'),
                   crop=sections['crop_choice'], **schedule,
                   **choices)
    if 'volume_lines' not in sections:
        sections['augmentation'] = plan.augmentation_choice(layout.kind)
        choices['augmentation'] = sections['augmentation']
    choices['averaging'] = plan.weight_average_choice(iters)
    if sections.get('split_choice') is not None:
        choices['validation'] = sections['split_choice']
    over = choices.get('oversampling')
    if over is not None and over.value['fraction'] > 0:
        sections['oversample'] = dict(share=round(over.value['fraction'], 4),
                                      classes=over.value['classes'])
    lines = [
        '# ' + comment_text(f'Written by `altair init {layout.root}` on {datetime.date.today()}: '
                        f'{layout.title}.'),
        *['# ' + comment_text(s) for s in summary],
        '# plan (from the data statistics):',
        *['#   ' + comment_text(f'{name}: {choice.summary or choice.value} -- {choice.reason}')
          for name, choice in choices.items()],
        '# ' + comment_text(f'Train: altair train {out}'),
        f"_base_ = ['./{base_file(model)}']  # the model and runtime, beside this file",
        f'data_root = {data_root_source(Path(sections["root"]), out)}',
        f'classes = {literal(classes.names)}',
        f'palette = {literal(classes.palette or _palette(len(classes.names)))}',
        f'mean = {literal(sections["mean"] if stats is None else stats.mean)}',
        f'std = {literal(sections["std"] if stats is None else stats.std)}',
        f'crop_size = ({crop}, {crop})',
        f'loss_decode = {literal(choices["loss"].value)}',
        'data_preprocessor = dict(mean=mean, std=std, bgr_to_rgb=False, size=crop_size,',
        '                         size_divisor=None, pad_val=0, seg_pad_val=255,',
        '                         test_cfg=dict(size_divisor=32))',
        'model = dict(',
        '    data_preprocessor=data_preprocessor,',
        f'    backbone=dict({backbone}in_channels={sections["in_channels"]}),',
        '    decode_head=dict(num_classes=len(classes), loss_decode=loss_decode),',
    ]
    if has_aux:
        lines.append('    auxiliary_head=dict(num_classes=len(classes)),')
    if choices['decision'].value is not None:
        lines.append(f"    test_cfg=dict(adjust_logits={literal(choices['decision'].value)}),")
    lines.append(')')
    lines += _data_lines(sections)
    lines += [
        "# precision 'auto': bf16 autocast where it is native (AVX512-BF16/AMX, a GPU), fp32",
        '# elsewhere (emulated bf16 is slower); fp16 is never chosen implicitly; --amp overrides.',
        f'optimizer = {OPTIMIZERS[optim]}',
        "optim_wrapper = dict(type='AutocastOptimWrapper', dtype='auto', optimizer=optimizer,",
        f'                     clip_grad={literal(CLIP_GRAD.get(optim))})',
        f"custom_hooks = [dict(type={literal(choices['memory_format'].value)}),",
        f"                {literal(choices['averaging'].value)}]",
        'param_scheduler = [',
        f"    dict(type='LinearLR', start_factor=0.1, begin=0, end={max(1, iters // 12)}, "
        'by_epoch=False),',
        f"    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin={max(1, iters // 12)}, "
        f'end={iters}, by_epoch=False),',
        ']',
        f"train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, "
        f'val_interval={max(1, -(-iters // VALIDATIONS))})',
        "val_cfg = dict(type='ValLoop')",
        "test_cfg = dict(type='TestLoop')",
        "metrics = ['mIoU', 'mDice'] if len(classes) == 2 else ['mIoU']",
        "val_evaluator = dict(type='ClassIoUMetric', iou_metrics=metrics)",
        'test_evaluator = val_evaluator',
        'default_hooks = dict(',
        f"    logger=dict(type='LoggerHook', interval={max(1, min(50, iters // 20))}, "
        'log_metric_by_epoch=False),',
        f"    checkpoint=dict(type='CheckpointHook', by_epoch=False, "
        f"interval={max(1, -(-iters // VALIDATIONS))},"
        f" save_best={literal(choices['checkpoint'].value)},",
        "                    rule='greater', max_keep_ckpts=1))",
        '',
    ]
    return '\n'.join(lines)


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


def _palette(n: int) -> list[list[int]]:
    """Black for the first class (usually the background), then matplotlib's tab20."""
    from matplotlib import colormaps
    tab = colormaps['tab20'].colors
    return [[0, 0, 0]] + [[int(round(255 * c)) for c in tab[i % 20]] for i in range(n - 1)]


def _data_lines(sections: dict) -> list[str]:
    if 'volume_lines' in sections:
        return sections['volume_lines'] + volume_loader_lines(sections['batch_size'])
    opts = sections['dataset_opts']
    split = sections['split']
    lines = [
        'train_pipeline = [',
        f'    {sections["load"]},',
        f'    {literal(sections["augmentation"].value)},',
        "    dict(type='PackSegInputs'),",
        ']',
        f'test_pipeline = [{sections["load"]}, dict(type=\'PackSegInputs\')]',
    ]
    for s in ('train', 'val'):
        scenes = sections['scenes'][s]
        lines.append(f'{s}_scenes = {literal(scenes)}')
    lines.append(f'split = {literal(split)}')
    data = ''.join(f', {k}={literal(v)}' for k, v in opts.items())
    lines += [
        "scene_options = dict(type='RasterSceneDataset', data_root=data_root,",
        f'                     classes=classes, palette=palette{data})',
        'train_dataloader = dict(',
        f'    batch_size={sections["batch_size"]}, num_workers=2, persistent_workers=True,',
        "    sampler=dict(type='InfiniteSampler', shuffle=True),",
        '    dataset=dict(scene_options, scenes=train_scenes, split=split, subset=\'train\',',
        '                 window_size=crop_size, min_valid_fraction=0.5,',
        *([f'                 oversample={literal(sections["oversample"], 17)},']
          if sections.get('oversample') else []),
        '                 pipeline=train_pipeline))',
        'val_dataloader = dict(',
        '    batch_size=1, num_workers=1, persistent_workers=True,',
        "    sampler=dict(type='DefaultSampler', shuffle=False),",
        '    dataset=dict(scene_options, scenes=val_scenes, split=split, subset=\'val\',',
        f'                 window_size={literal(sections["val_window"])}, '
        'pipeline=test_pipeline))',
        'test_dataloader = val_dataloader',
    ]
    return lines
