"""Evaluate a checkpoint: plain or with test-time augmentation, optionally saving outputs."""
from __future__ import annotations

import os
import secrets

from mmengine.config import Config

from altair.api.runs import CheckpointNotFoundError, read_config, resolve_model_source
from altair.api.train import build_runner, fresh_visualizer, prepare_config, set_console
from altair.config import dataset_leaves, load_model_config, require_model
from altair.errors import AltairError


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


def test_checkpoint(config, checkpoint: str | os.PathLike, *, tta: bool = False,
                    show_dir: str | None = None, out: str | None = None,
                    work_dir: str | None = None, launcher: str | None = None,
                    cfg_options: dict | None = None, verbose: bool = True) -> dict:
    """Evaluate ``checkpoint`` on the config's test set and return the metrics dict
    (``verbose=False``: a progress bar, mmengine's log in the log file only). A run's
    trackers are not logged to again."""
    if not os.path.isfile(checkpoint):
        raise CheckpointNotFoundError(f"checkpoint '{checkpoint}' does not exist")
    cfg = read_config(config, cfg_options=cfg_options)
    require_model(cfg, config if isinstance(config, (str, os.PathLike)) else checkpoint)
    cfg = load_model_config(cfg)
    cfg = prepare_config(cfg, work_dir=work_dir, launcher=launcher,
                         config_path=None if isinstance(config, (dict, Config)) else str(config))
    cfg.load_from = str(checkpoint)
    cfg.resume = False  # a resumed run's saved config says resume=True
    set_console(cfg, verbose)
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
    if tta:
        enable_tta(cfg)
    if show_dir:
        enable_show(cfg, show_dir)
    if out:
        cfg.test_evaluator['output_dir'] = out
        cfg.test_evaluator['keep_results'] = True
    runner = build_runner(cfg, splits=('test',))
    return runner.test()


def test(run_or_config, checkpoint: str | os.PathLike | None = None, *, tta: bool = False,
         show_dir: str | None = None, out: str | None = None, work_dir: str | None = None,
         cfg_options: dict | None = None, root: str | os.PathLike | None = None,
         launcher: str | None = None, verbose: bool = True) -> dict:
    """Evaluate a run (id, id prefix or ``Run``) or a config on its test set.

    For a run, ``checkpoint`` defaults to its best checkpoint (else its last) and logs go to
    ``<run>/test/``. ``launcher``: mmengine's, for a job started by torchrun / Slurm (default:
    detected from the environment). Returns the metrics (``mIoU``, ``aAcc``, ``mAcc``, ``IoU.<class>``, ...).

    Raises:
        RunNotFoundError: no such run; NoCheckpointError: it has saved none yet;
        CheckpointNotFoundError: a config without a ``checkpoint``, or a missing file.
    """
    config, checkpoint, run = resolve_model_source(run_or_config, checkpoint, root)
    if run is not None:
        work_dir = work_dir or str(run.dir / 'test')
    metrics = test_checkpoint(config, checkpoint, tta=tta, show_dir=show_dir, out=out,
                              work_dir=work_dir, launcher=launcher, cfg_options=cfg_options,
                              verbose=verbose)
    return {k: float(v) if isinstance(v, (int, float)) else v for k, v in metrics.items()}
