"""A :class:`~altair.datasets.data_plan.DataPlan` and its planned choices written as one config:
the header (what was found, each choice and its reason), the model, the data section of the
plan's kind, the loaders, the schedule. Every value from the user's folder goes through
``config_source.literal`` or ``comment_text``."""
from __future__ import annotations

import datetime
from pathlib import Path

from mmengine.config import Config

from altair.api.config_source import comment_text, data_root_source, literal
from altair.api.init_models import CLIP_GRAD, CONFIGS, MODELS, OPTIMIZERS, base_file
from altair.datasets.data_plan import DataPlan, SceneData, VolumeData
from altair.datasets.plan import Choice

# validations during training: every ceil(max_iters / 4) iterations, the last at the end
VALIDATIONS = 4
LOAD_RASTER = "dict(type='LoadRaster', fill=mean)"


def render(data: DataPlan, choices: dict[str, Choice], *, model: str, out: Path) -> str:
    """The config ``altair init`` writes to ``out`` for ``data``, trained as ``choices``
    plan (they hold ``batch_size`` and ``iterations``; the header lists them in order)."""
    base_model, optim, backbone = MODELS[model]
    has_aux = Config.fromfile(str(CONFIGS / base_model)).model.get('auxiliary_head') is not None
    iters = choices['iterations'].value
    interval = max(1, -(-iters // VALIDATIONS))
    lines = [
        *header(data, choices, out=out),
        f"_base_ = ['./{base_file(model)}']  # the model and runtime, beside this file",
        f'data_root = {data_root_source(data.root, out)}',
        f'classes = {literal(data.classes.names)}',
        f'palette = {literal(data.classes.palette or default_palette(len(data.classes.names)))}',
        f'mean = {literal(data.mean)}',
        f'std = {literal(data.std)}',
        f'crop_size = ({data.crop.value}, {data.crop.value})',
        f'loss_decode = {literal(choices["loss"].value)}',
        'data_preprocessor = dict(mean=mean, std=std, bgr_to_rgb=False, size=crop_size,',
        '                         size_divisor=None, pad_val=0, seg_pad_val=255,',
        '                         test_cfg=dict(size_divisor=32))',
        'model = dict(',
        '    data_preprocessor=data_preprocessor,',
        f'    backbone=dict({backbone}in_channels={data.in_channels}),',
        '    decode_head=dict(num_classes=len(classes), loss_decode=loss_decode),',
        *(['    auxiliary_head=dict(num_classes=len(classes)),'] if has_aux else []),
        *([f"    test_cfg=dict(adjust_logits={literal(choices['decision'].value)}),"]
          if choices['decision'].value is not None else []),
        ')',
        *data_lines(data, choices),
        "# precision 'auto': bf16 autocast where it is native (AVX512-BF16/AMX, a GPU), fp32",
        '# elsewhere (emulated bf16 is slower); fp16 is never chosen implicitly; --precision',
        '# overrides.',
        f'optimizer = {OPTIMIZERS[optim]}',
        "optim_wrapper = dict(type='AutocastOptimWrapper', dtype='auto', optimizer=optimizer,",
        f'                     clip_grad={literal(CLIP_GRAD.get(optim))})',
        f"custom_hooks = [dict(type={literal(choices['memory_format'].value)}),",
        f"                {literal(choices['averaging'].value)}]",
        'param_scheduler = [', *scheduler_lines(iters), ']',
        f"train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, "
        f'val_interval={interval})',
        "val_cfg = dict(type='ValLoop')",
        "test_cfg = dict(type='TestLoop')",
        "metrics = ['mIoU', 'mDice'] if len(classes) == 2 else ['mIoU']",
        "val_evaluator = dict(type='ClassIoUMetric', iou_metrics=metrics)",
        'test_evaluator = val_evaluator',
        'default_hooks = dict(',
        f"    logger=dict(type='LoggerHook', interval={max(1, min(50, iters // 20))}, "
        'log_metric_by_epoch=False),',
        f"    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval={interval},"
        f" save_best={literal(choices['checkpoint'].value)},",
        "                    rule='greater', max_keep_ckpts=1))",
        '',
    ]
    return '\n'.join(lines)


def header(data: DataPlan, choices: dict[str, Choice], *, out: Path) -> list[str]:
    """The comment lines that open the config: where it came from, the data summary, the
    plan with a reason for each choice, the command that trains it."""
    return [
        '# ' + comment_text(f'Written by `altair init {data.layout.root}` on '
                            f'{datetime.date.today()}: {data.layout.title}.'),
        *['# ' + comment_text(s) for s in data.summary],
        '# plan (from the data statistics):',
        *['#   ' + comment_text(f'{name}: {choice.summary or choice.value} -- {choice.reason}')
          for name, choice in choices.items()],
        '# ' + comment_text(f'Train: altair train {out}'),
    ]


def data_lines(data: DataPlan, choices: dict[str, Choice]) -> list[str]:
    """The pipelines, dataset options and loaders of the plan's kind of data."""
    batch = choices['batch_size'].value
    if isinstance(data.data, VolumeData):
        return _volume_lines(data.data) + loader_lines(
            batch, train=["dict(volume_options, subset='train', skip_empty=True,",
                          'pipeline=train_pipeline))'],
            val=["dict(volume_options, subset='val', pipeline=test_pipeline))"])
    scenes: SceneData = data.data
    over = choices.get('oversampling')
    oversample = (dict(share=round(over.value['fraction'], 4), classes=over.value['classes'])
                  if over is not None and over.value['fraction'] > 0 else None)
    options = ''.join(f', {k}={literal(v)}' for k, v in scenes.options.items())
    lines = [
        'train_pipeline = [',
        f'    {LOAD_RASTER},',
        f"    {literal(choices['augmentation'].value)},",
        "    dict(type='PackSegInputs'),",
        ']',
        f"test_pipeline = [{LOAD_RASTER}, dict(type='PackSegInputs')]",
        f"train_scenes = {literal(scenes.scenes['train'])}",
        f"val_scenes = {literal(scenes.scenes['val'])}",
        f'split = {literal(scenes.split)}',
        "scene_options = dict(type='RasterSceneDataset', data_root=data_root,",
        f'                     classes=classes, palette=palette{options})',
    ]
    return lines + loader_lines(
        batch,
        train=["dict(scene_options, scenes=train_scenes, split=split, subset='train',",
               'window_size=crop_size, min_valid_fraction=0.5,',
               *([f'oversample={literal(oversample, 17)},'] if oversample else []),
               'pipeline=train_pipeline))'],
        val=["dict(scene_options, scenes=val_scenes, split=split, subset='val',",
             f'window_size={literal(scenes.val_window)}, pipeline=test_pipeline))'])


def loader_lines(batch: int, *, train: list[str], val: list[str]) -> list[str]:
    """The train loader (infinite, shuffled, ``batch`` a step) and the val/test loader (one
    image a step) around the dataset lines given (continuation lines are indented here)."""
    def dataset(parts: list[str]) -> list[str]:
        return [f'    dataset={parts[0]}', *[' ' * 17 + p for p in parts[1:]]]
    return [
        'train_dataloader = dict(',
        f'    batch_size={batch}, num_workers=2, persistent_workers=True,',
        "    sampler=dict(type='InfiniteSampler', shuffle=True),",
        *dataset(train),
        'val_dataloader = dict(',
        '    batch_size=1, num_workers=1, persistent_workers=True,',
        "    sampler=dict(type='DefaultSampler', shuffle=False),",
        *dataset(val),
        'test_dataloader = val_dataloader',
    ]


def scheduler_lines(iters: int) -> list[str]:
    """A linear warm-up over the first twelfth of ``iters`` (at least one iteration), then a
    poly decay to the end; a run of one iteration has no room for the warm-up (mmengine
    refuses a scheduler whose end is not after its begin)."""
    warm = min(max(1, iters // 12), iters - 1)
    lines = [f"    dict(type='LinearLR', start_factor=0.1, begin=0, end={warm}, "
             'by_epoch=False),'] if warm else []
    return lines + [f"    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin={warm}, "
                    f'end={iters}, by_epoch=False),']


def _volume_lines(volumes: VolumeData) -> list[str]:
    return [
        f'volumes = {literal(volumes.volumes)}',
        *(['# the cases to predict (imagesTs/), one list of channel files each; not used in '
           'training', f'predict_cases = {literal(volumes.predict)}'] if volumes.predict else []),
        f'normalize = {literal(volumes.normalize)}',
        f'split = {literal(volumes.split)}',
        "volume_options = dict(type='VolumeSliceDataset', data_root=data_root,",
        '                      volumes=volumes, classes=classes, palette=palette, '
        f'axis={volumes.axis},',
        '                      normalize=normalize, split=split'
        + (f', context={volumes.context})' if volumes.context else ')'),
        'train_pipeline = [',
        "    dict(type='LoadVolumeSlice'),",
        # RandomCrop, or centred on crop_centre with volume_options' oversample=dict(...)
        "    dict(type='CentredRandomCrop', crop_size=crop_size),",
        "    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),",
        "    dict(type='PackSegInputs'),",
        ']',
        "test_pipeline = [dict(type='LoadVolumeSlice'), dict(type='PackSegInputs')]",
    ]


def default_palette(n: int) -> list[list[int]]:
    """Black for the first class (usually the background), then matplotlib's tab20."""
    from matplotlib import colormaps
    tab = colormaps['tab20'].colors
    return [[0, 0, 0]] + [[int(round(255 * c)) for c in tab[i % 20]] for i in range(n - 1)]
