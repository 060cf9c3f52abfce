"""One place that turns a loaded config into the config a command runs, and a run saves as
its ``config.py``: :func:`compile_config`, an ordered list of named passes.

``altair train`` (one process, and each rank of a launched job), each local worker of a
many-process training, and ``altair test`` call it; each pass reads what it needs of
:class:`CompileOptions` and leaves a config it already compiled as it is, so the saved
config of a run compiles to itself.
"""
from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mmengine.config import Config

from altair.api.runs import Run
from altair.config import dataset_leaves, split_datasets
from altair.config_checks import check_config_keys, check_model_types
from altair.datasets.class_weights import resolve_class_weights
from altair.datasets.transforms import UnknownPresetError
from altair.datasets.transforms.aug_preset import with_preset
from altair.engine.accelerate_env import apply_accelerate_env
from altair.engine.amp import apply_amp
from altair.engine.device import detect_launcher
from altair.engine.progress import CONSOLE_MODES
from altair.engine.tracking import check_track, locations, vis_backends
from altair.errors import AltairError

logger = logging.getLogger('altair')
MODES = ('train', 'worker', 'test')


class CompileOptionError(AltairError, ValueError):
    """An option of a command that the config cannot take (``console``, ``--tta``, ...)."""


@dataclass
class CompileOptions:
    """What a command adds to its config.

    Attributes:
        mode: ``'train'`` (a run's training), ``'worker'`` (a rank re-reading its run's
            saved config) or ``'test'``.
        work_dir, config_path: where checkpoints and logs go (default
            ``work_dirs/<config name>``).
        launcher: mmengine's launcher (default: detected from the environment).
        amp: precision (default: the config's ``amp`` key, else its optim wrapper).
        resume: continue the training in ``work_dir``.
        accelerate: take precision, accumulation and strategy from ``accelerate config``'s
            environment (``log``: say so; only rank 0 logs).
        run, grad_accum, seed, track, verbose, record: a training run's options (``record``:
            this process writes ``run.json``).
        checkpoint, tta, show_dir, out: a test's options.
    """
    mode: str = 'train'
    work_dir: str | os.PathLike | None = None
    config_path: str | None = None
    launcher: str | None = None
    amp: str | None = None
    resume: bool = False
    accelerate: bool = False
    log: bool = True
    run: Run | None = None
    grad_accum: int | None = None
    seed: int | None = None
    track: Any = None
    verbose: bool | None = None
    record: bool = True
    checkpoint: str | None = None
    tta: bool = False
    show_dir: str | None = None
    out: str | None = None


def _accelerate(cfg: Config, opts: CompileOptions) -> None:
    """``amp`` and ``grad_accum`` after what ``accelerate config`` chose (see
    :mod:`altair.engine.accelerate_env`)."""
    if not opts.accelerate:
        return
    import torch
    quiet = (lambda msg: None)
    opts.amp, opts.grad_accum = apply_accelerate_env(
        cfg, os.environ, amp=opts.amp, grad_accum=opts.grad_accum,
        warn=logger.warning if opts.log else quiet, info=logger.info if opts.log else quiet,
        cuda=torch.cuda.is_available())


def _defaults(cfg: Config, opts: CompileOptions) -> None:
    """Scope, runner, work directory, launcher; ``CheckpointHook`` as the crash-safe
    ``AltairCheckpointHook`` (same options); ``resume``."""
    check_config_keys(cfg)
    cfg.setdefault('default_scope', 'altair')
    cfg.setdefault('runner_type', 'AltairRunner')
    if opts.work_dir is not None:
        cfg.work_dir = str(opts.work_dir)
    elif cfg.get('work_dir') is None:
        name = Path(opts.config_path).stem if opts.config_path else 'altair'
        cfg.work_dir = str(Path('work_dirs') / name)
    cfg.launcher = opts.launcher or detect_launcher()
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') == 'CheckpointHook':
        checkpoint['type'] = 'AltairCheckpointHook'
    if opts.resume:
        cfg.resume = True
        cfg.load_from = None


def _hooks(cfg: Config, opts: CompileOptions) -> None:
    """A resumed run draws the same random numbers; a NaN loss stops before it is
    checkpointed."""
    have = {h.get('type') for h in cfg.get('custom_hooks') or []}
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type=t) for t in ('RngStateHook', 'StopOnNonFiniteLossHook') if t not in have]


def _augmentations(cfg: Config, opts: CompileOptions) -> None:
    """The shorthand ``augmentations = dict(preset='heavy')``: every training dataset's
    pipeline gets ``AugPreset`` in place of its random flips, crops, rotations and colour
    steps."""
    spec = cfg.pop('augmentations', None)
    if not spec:
        return
    ignore = (cfg.model.get('decode_head') or {}).get('ignore_index', 255)
    for dataset in split_datasets(cfg, 'train'):
        try:
            dataset['pipeline'] = with_preset(
                dataset.get('pipeline') or [], spec['preset'],
                crop_size=spec.get('crop_size', cfg.get('crop_size')), ignore_index=ignore)
        except UnknownPresetError as exc:  # the choices are named; say where it came from
            where = f' in {cfg.filename}' if cfg.filename else ''
            raise UnknownPresetError(f'{exc} (config key augmentations.preset{where})') from None


def _sample_checks(cfg: Config, opts: CompileOptions) -> None:
    """``CheckSegSample`` after every ``LoadAnnotations`` (or ``LoadRaster``,
    ``LoadVolumeSlice``) of every train / val / test dataset."""
    head = cfg.model.get('decode_head') or {}
    head = head[-1] if isinstance(head, (list, tuple)) else head
    if 'num_classes' not in head:
        return
    check = dict(type='CheckSegSample', num_classes=head['num_classes'],
                 ignore_index=head.get('ignore_index', 255))
    for split in ('train', 'val', 'test'):
        for dataset in split_datasets(cfg, split):
            steps = list(dataset.get('pipeline') or [])
            if any(s.get('type') == 'CheckSegSample' for s in steps):
                continue
            for i, step in enumerate(steps):
                if str(step.get('type', '')).endswith(('LoadAnnotations', 'LoadRaster',
                                                       'LoadVolumeSlice')):
                    dataset['pipeline'] = steps[:i + 1] + [check] + steps[i + 1:]
                    break


def _class_weights(cfg: Config, opts: CompileOptions) -> None:
    """``class_weight='auto'`` → numbers from the training pixels (saved with the run)."""
    resolve_class_weights(cfg)


def _precision(cfg: Config, opts: CompileOptions) -> None:
    """``amp`` (the option, else the config's ``precision`` key) into the optim wrapper."""
    amp = opts.amp or cfg.pop('precision', None)
    if amp is not None:
        cfg.optim_wrapper = apply_amp(cfg.optim_wrapper, amp)


def _model_types(cfg: Config, opts: CompileOptions) -> None:
    check_model_types(cfg.model)


def set_console(cfg: Config, verbose: bool | None) -> Config:
    """``cfg.console`` from ``verbose`` (None: the config's ``console``, else ``'verbose'``),
    with ``ConsoleProgressHook`` in ``custom_hooks`` exactly when it is ``'progress'``."""
    console = cfg.get('console', 'verbose') if verbose is None else (
        'verbose' if verbose else 'progress')
    if console not in CONSOLE_MODES:
        raise CompileOptionError(f"config key console = '{console}'; choose one of "
                                 f"{', '.join(CONSOLE_MODES)}")
    cfg.console = console
    hooks = [h for h in cfg.get('custom_hooks') or [] if h.get('type') != 'ConsoleProgressHook']
    if console == 'progress':
        hooks.append(dict(type='ConsoleProgressHook'))
        if cfg.get('runner_type') == 'FlexibleRunner':
            cfg.runner_type = 'AltairFlexibleRunner'
    cfg.custom_hooks = hooks
    return cfg


def fresh_visualizer(cfg: Config, tag: str) -> Config:
    """Give the config's visualizer a name of its own (``visualizer-<tag>``). mmengine builds
    visualizers by name and hands back an existing instance of that name: with mmseg's
    ``name='visualizer'`` a second training in one process (a notebook, ``make demo``'s
    train then test) logged into the first run's folder and backends."""
    visualizer = dict(cfg.get('visualizer') or dict(type='SegLocalVisualizer',
                                                    vis_backends=[dict(type='LocalVisBackend')]))
    visualizer['name'] = f'visualizer-{tag}'
    cfg.visualizer = visualizer
    return cfg


def _run_options(cfg: Config, opts: CompileOptions) -> None:
    """A training run's accumulation, seed, metrics file, console (``verbose``: mmengine's
    log stream, else a progress display) and trackers (``track``, else the config's
    ``track``; where they log is recorded in ``run.json`` when ``record``)."""
    run = opts.run
    if opts.mode != 'train' or run is None:
        return
    if opts.grad_accum is not None:
        cfg.optim_wrapper['accumulative_counts'] = opts.grad_accum
    if opts.seed is not None:
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=opts.seed)
    added = [dict(type='RunMetricsHook', path=str(run.dir / 'metrics.json'))]
    set_console(cfg, opts.verbose)
    configured = cfg.pop('track', None)
    trackers = check_track(opts.track if opts.track is not None else configured)
    fresh_visualizer(cfg, run.id)
    if trackers:
        experiment = run.info.get('config_name') or 'altair'
        have = list(cfg.visualizer.get('vis_backends') or [dict(type='LocalVisBackend')])
        kinds = {b.get('type') for b in have}  # a resumed run's saved config has them already
        cfg.visualizer['vis_backends'] = have + [
            b for b in vis_backends(trackers, experiment=experiment, run_name=run.id)
            if b['type'] not in kinds]
        added.append(dict(type='ValOverlayHook'))
        if opts.record:
            run.set_info(tracking=locations(trackers, work_dir=run.work_dir,
                                            experiment=experiment, run_name=run.id))
    ours = {h['type'] for h in added}
    hooks = [h for h in cfg.get('custom_hooks') or [] if h.get('type') not in ours]
    cfg.custom_hooks = hooks + added


def _test_mode(cfg: Config, opts: CompileOptions) -> None:
    """A test of ``checkpoint``: no resume, its own visualizer, no trackers logged to again,
    one process with the plain runner for FSDP / DeepSpeed checkpoints, then ``tta``,
    ``show_dir`` and ``out``."""
    if opts.mode != 'test':
        return
    cfg.load_from = str(opts.checkpoint)
    cfg.resume = False  # a resumed run's saved config says resume=True
    set_console(cfg, opts.verbose)
    fresh_visualizer(cfg, f'test-{secrets.token_hex(4)}')
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.get('type') != 'ValOverlayHook']
    if cfg.get('visualizer') and cfg.visualizer.get('vis_backends'):
        cfg.visualizer.vis_backends = [b for b in cfg.visualizer.vis_backends
                                       if b.get('type') == 'LocalVisBackend']
    if cfg.launcher == 'none' and cfg.get('runner_type') in ('FlexibleRunner',
                                                           'AltairFlexibleRunner'):
        # FSDP / DeepSpeed shard over processes; one process tests the full checkpoint with
        # the plain runner (FSDP configs save full checkpoints, state_dict_cfg='full')
        cfg.runner_type = 'AltairRunner'
        cfg.pop('strategy', None)
        if cfg.optim_wrapper.get('type') == 'DeepSpeedOptimWrapper':
            cfg.pop('optim_wrapper')
    if opts.tta:
        enable_tta(cfg)
    if opts.show_dir:
        enable_show(cfg, opts.show_dir)
    if opts.out:
        cfg.test_evaluator['output_dir'] = opts.out
        cfg.test_evaluator['keep_results'] = True


class TTAConfigMissingError(AltairError, KeyError):
    """``--tta`` asked of a config without what it needs."""


class ShowDirError(AltairError, ValueError):
    """``--show-dir`` asked of a test set whose samples are not whole image files."""


def _reads_parts(dataset: dict) -> str | None:
    """What makes a test set's samples parts of its files (windows of raster scenes, slices
    of volumes), which mmseg's SegVisualizationHook would draw over the whole file; None
    for whole images."""
    if any(isinstance(t, dict) and t.get('type') == 'LoadVolumeSlice'
           for t in dataset.get('pipeline') or []):
        return 'slices of volumes (LoadVolumeSlice)'
    if dataset.get('type') == 'RasterSceneDataset' and dataset.get('window_size',
                                                                    (512, 512)) is not None:
        return f"windows of scenes (RasterSceneDataset window_size={dataset.get('window_size')})"
    return None


def enable_tta(cfg: Config) -> Config:
    """Wrap ``model`` in ``tta_model``. Altair's ``AltairTTAModel`` augments inside the model;
    any other TTA model (mmseg's ``SegTTAModel``) also gets the test pipeline replaced by
    ``tta_pipeline``, mmseg's way.

    Raises:
        TTAConfigMissingError: no ``tta_model``, or no ``tta_pipeline`` where one is needed.
    """
    if 'tta_model' not in cfg:
        raise TTAConfigMissingError(
            "--tta needs 'tta_model' in the config (see configs/_base_/default_runtime.py)")
    if cfg.tta_model.get('type') != 'AltairTTAModel':
        if 'tta_pipeline' not in cfg:
            raise TTAConfigMissingError(
                f"--tta with {cfg.tta_model.get('type')} needs 'tta_pipeline' in the config")
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    return cfg


def enable_show(cfg: Config, show_dir: str) -> Config:
    """Draw every test prediction next to its ground truth into ``<work_dir>/<show_dir>``
    (``show_dir`` itself when absolute); images land in its ``vis_data/vis_image/``. A config
    without ``default_hooks.visualization`` (``altair init``'s) gets mmseg's
    ``SegVisualizationHook``.

    Raises:
        ShowDirError: a test set read by windows of scenes or slices of volumes, which that
            hook cannot draw.
    """
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    for leaf in dataset_leaves(dataset):
        parts = _reads_parts(leaf)
        if parts:
            raise ShowDirError(
                f'--show-dir draws each test image whole, but this test set reads {parts}; '
                'see whole predictions with altair predict RUN IMAGES --save overlay instead')
    if cfg.get('default_hooks') is None:
        cfg.default_hooks = {}
    # configs `altair init` writes leave the hook out: add it
    if cfg.default_hooks.get('visualization') is None:
        cfg.default_hooks['visualization'] = dict(type='SegVisualizationHook')
    hook = cfg.default_hooks['visualization']  # the config's copy of the dict
    hook['draw'] = True
    hook['interval'] = 1
    cfg.visualizer['save_dir'] = os.path.join(cfg.work_dir, show_dir)
    return cfg


# the order they run in: every command's config goes through all of them
PASSES: tuple[tuple[str, Callable[[Config, CompileOptions], None]], ...] = (
    ('accelerate', _accelerate),
    ('defaults', _defaults),
    ('hooks', _hooks),
    ('augmentations', _augmentations),
    ('sample_checks', _sample_checks),
    ('class_weights', _class_weights),
    ('precision', _precision),
    ('model_types', _model_types),
    ('run_options', _run_options),
    ('test_mode', _test_mode),
)


def compile_config(cfg: Config, options: CompileOptions | None = None, **kwargs) -> Config:
    """Run every pass of :data:`PASSES` over ``cfg`` in order (the same object, returned);
    ``options`` or its fields as keywords."""
    opts = options or CompileOptions(**kwargs)
    if opts.mode not in MODES:
        raise CompileOptionError(f"compile mode '{opts.mode}'; choose one of {', '.join(MODES)}")
    for _, run_pass in PASSES:
        run_pass(cfg, opts)
    return cfg
