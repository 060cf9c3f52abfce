"""Evaluate a checkpoint: plain or with test-time augmentation, optionally saving outputs."""
from __future__ import annotations

import os

from mmengine.config import Config

from altair.api.compile import CompileOptions, compile_config
from altair.api.runs import CheckpointNotFoundError, read_config, resolve_model_source
from altair.api.train import build_runner
from altair.config import load_model_config
from altair.config_checks import require_model


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
    cfg = compile_config(cfg, CompileOptions(
        mode='test', work_dir=work_dir, launcher=launcher,
        config_path=None if isinstance(config, (dict, Config)) else str(config),
        checkpoint=str(checkpoint), tta=tta, show_dir=show_dir, out=out, verbose=verbose))
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
