"""Evaluate a checkpoint: plain or with test-time augmentation, optionally saving outputs; or
score predicted volumes per case (:mod:`altair.api.test_cases`)."""
from __future__ import annotations

import os

from mmengine.config import Config

from altair.api.compile import CompileOptions, TTAConfigMissingError, compile_config
from altair.api.runs import CheckpointNotFoundError, read_config, resolve_model_source
from altair.api.test_cases import config_of, predict_and_score, test_cases, test_volumes
from altair.api.train import build_runner
from altair.config import load_model_config
from altair.config_checks import require_model


def test_checkpoint(config, checkpoint: str | os.PathLike, *, tta: bool = False,
                    tta_transforms: list[str] | None = None,
                    show_dir: str | None = None, out: str | None = None,
                    work_dir: str | None = None, launcher: str | None = None,
                    cfg_options: dict | None = None, verbose: bool = True) -> dict:
    """Evaluate ``checkpoint`` on the config's test set and return the metrics dict
    (``verbose=False``: a progress bar, mmengine's log in the log file only). A run's
    trackers are not logged to again. ``tta_transforms`` replace the transforms of the
    config's ``AltairTTAModel``."""
    if not os.path.isfile(checkpoint):
        raise CheckpointNotFoundError(f"checkpoint '{checkpoint}' does not exist")
    cfg = read_config(config, cfg_options=cfg_options)
    require_model(cfg, config if isinstance(config, (str, os.PathLike)) else checkpoint)
    cfg = load_model_config(cfg)
    if tta_transforms:
        kind = (cfg.get('tta_model') or {}).get('type')
        if kind != 'AltairTTAModel':
            raise TTAConfigMissingError(
                f"--tta {' '.join(tta_transforms)} sets the transforms of AltairTTAModel; this "
                f"config's tta_model is {kind}: give --tta alone to use it as it is")
        cfg.tta_model.transforms = list(tta_transforms)
    cfg = compile_config(cfg, CompileOptions(
        mode='test', work_dir=work_dir, launcher=launcher,
        config_path=None if isinstance(config, (dict, Config)) else str(config),
        checkpoint=str(checkpoint), tta=tta or bool(tta_transforms), show_dir=show_dir,
        out=out, verbose=verbose))
    runner = build_runner(cfg, splits=('test',))
    return runner.test()


def test(run_or_config, checkpoint: str | os.PathLike | None = None, *, tta: bool = False,
         tta_transforms: list[str] | None = None, show_dir: str | None = None,
         out: str | None = None, work_dir: str | None = None,
         cfg_options: dict | None = None, root: str | os.PathLike | None = None,
         launcher: str | None = None, verbose: bool = True,
         cases: str | os.PathLike | None = None, labels: str | os.PathLike | None = None,
         tolerance: float = 1.0) -> dict:
    """Evaluate a run (id, id prefix or ``Run``) or a config on its test set.

    For a run, ``checkpoint`` defaults to its best checkpoint (else its last) and logs go to
    ``<run>/test/``. ``launcher``: mmengine's, for a job started by torchrun / Slurm (default:
    detected from the environment). Returns the metrics (``mIoU``, ``aAcc``, ``mAcc``, ``IoU.<class>``, ...).

    A config whose test set is a ``VolumeSliceDataset`` is scored per case: its test
    volumes are predicted whole (``alt.predict``, into ``<work_dir>/cases``) and scored as
    ``cases`` are below (``show_dir`` / ``out``: mmseg's slice-by-slice test instead).

    With ``cases`` (a folder of ``<case>_seg.nii.gz`` / ``.nii`` / ``.npy`` predictions) no
    model runs: each case is scored against its reference (from ``labels``, a folder of
    ``<case>.nii.gz``..., else the run's / config's ``VolumeSliceDataset`` volumes) by Dice,
    HD95 and NSD at ``tolerance`` mm per class, ``summary.json`` is written into ``out``
    (default ``cases``) and the summary returned (:func:`~altair.api.test_cases.test_cases`).
    The run names the classes; with ``labels`` it may be None (classes named by label value).

    ``tta``: test-time augmentation with the config's ``tta_model``; ``tta_transforms``
    (naming them turns TTA on; ``hflip vflip rotate90 transpose d2 d4``, as ``alt.predict``)
    replace its transforms.

    Raises:
        RunNotFoundError: no such run; NoCheckpointError: it has saved none yet;
        CheckpointNotFoundError: a config without a ``checkpoint``, or a missing file.
    """
    if cases is not None:
        config = config_of(run_or_config, root)
        return test_cases(cases, labels=labels, tolerance=tolerance, out=out,
                          config=None if config is None else read_config(
                              config, cfg_options=cfg_options))
    config, checkpoint, run = resolve_model_source(run_or_config, checkpoint, root)
    if run is not None:
        work_dir = work_dir or str(run.dir / 'test')
    cfg = read_config(config, cfg_options=cfg_options)
    if test_volumes(cfg) and show_dir is None and out is None:
        return predict_and_score(checkpoint, cfg, tta=tta, tta_transforms=tta_transforms,
                                 tolerance=tolerance,
                                 work_dir=work_dir or 'work_dirs/test', verbose=verbose)
    metrics = test_checkpoint(config, checkpoint, tta=tta, tta_transforms=tta_transforms,
                              show_dir=show_dir, out=out,
                              work_dir=work_dir, launcher=launcher, cfg_options=cfg_options,
                              verbose=verbose)
    return {k: float(v) if isinstance(v, (int, float)) else v for k, v in metrics.items()}
