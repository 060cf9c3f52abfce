"""Build an Altair runner from a config and train or test with it."""
from __future__ import annotations

import os
from pathlib import Path

from mmengine.config import Config

from altair.api.config import check_model_types, load_config
from altair.engine.amp import apply_amp
from altair.engine.device import detect_launcher


def prepare_config(cfg: Config, *, work_dir: str | os.PathLike | None = None,
                   amp: str | None = None, resume: bool = False,
                   launcher: str | None = None, config_path: str | None = None) -> Config:
    """Apply the command-line level options to a loaded config (returns the same object).

    ``work_dir`` defaults to ``work_dirs/<config name>`` as in mmseg; ``launcher`` defaults to
    what the environment says (torchrun / Slurm variables, see ``detect_launcher``).
    """
    cfg.setdefault('default_scope', 'altair')
    cfg.setdefault('runner_type', 'AltairRunner')
    if work_dir is not None:
        cfg.work_dir = str(work_dir)
    elif cfg.get('work_dir') is None:
        name = Path(config_path).stem if config_path else 'altair'
        cfg.work_dir = str(Path('work_dirs') / name)
    cfg.launcher = launcher or detect_launcher()
    if amp is not None:
        cfg.optim_wrapper = apply_amp(cfg.optim_wrapper, amp)
    if resume:
        cfg.resume = True
        cfg.load_from = None
    check_model_types(cfg.model)
    return cfg


def build_runner(cfg: Config):
    """The runner named by ``cfg.runner_type`` (``AltairRunner`` once ``prepare_config`` ran)."""
    import altair.engine  # noqa: F401  (registers AltairRunner, safe checkpoint globals)
    from altair.registry import RUNNERS
    return RUNNERS.build(cfg)


def train_config(config, *, work_dir=None, amp=None, resume=False, launcher=None,
                 cfg_options=None):
    """Load ``config``, train it, and return the runner (holding the trained model)."""
    cfg = load_config(config, cfg_options=cfg_options)
    cfg = prepare_config(cfg, work_dir=work_dir, amp=amp, resume=resume, launcher=launcher,
                         config_path=None if isinstance(config, (dict, Config)) else str(config))
    runner = build_runner(cfg)
    runner.train()
    return runner
