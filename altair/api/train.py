"""Train a config as a run in the run store: in this process, on N local workers, or as one
rank of a job launched from outside (torchrun, ``accelerate launch``, Slurm)."""
from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from mmengine.config import Config

import altair.engine  # noqa: F401  (registers AltairRunner, safe checkpoint globals)
from altair.api.compile import CompileOptions, compile_config
from altair.api.runs import (Run, RunNotFoundError, create_run, list_runs, load_run, read_config,
                             run_name)
from altair.config import load_config
from altair.config_checks import naming_the_section, section_of
from altair.datasets.check import check_dataset_folders
from altair.engine.accelerate_env import check_accelerate_env, one_process_fsdp
from altair.engine.device import detect_launcher, init_distributed
from altair.engine.launch import WorkerFailedError, launch_local, threads_per_worker
from altair.errors import AltairError, FailedWorkError, renamed_keyword
from altair.fileio import ensure_writable_dir
from altair.registry import RUNNERS

logger = logging.getLogger('altair')


class TrainingFailedError(FailedWorkError):
    """A worker of a multi-process training failed (the message carries its error)."""


class TrainOptionError(AltairError, ValueError):
    """A bad value for ``distributed``, ``gpus`` or ``grad_accum``."""


class StrategyUnavailableError(AltairError, ImportError):
    """A config's strategy needs a package that is not installed."""


def build_runner(cfg: Config, splits: tuple[str, ...] = ('train', 'val')):
    """The runner named by ``cfg.runner_type`` (``AltairRunner`` once ``compile_config`` ran).

    Raises:
        StrategyUnavailableError: a DeepSpeed config without DeepSpeed installed.
        OutputDirError: the work directory cannot be written.
        DatasetFolderError: a segmentation dataset's folder of ``splits`` is missing or empty.
    """
    strategy = str((cfg.get('strategy') or {}).get('type', ''))
    if 'DeepSpeed' in strategy:
        try:
            import deepspeed  # noqa: F401
        except ImportError:
            raise StrategyUnavailableError(
                f"strategy '{strategy}' needs DeepSpeed, which is not installed: "
                "pip install 'altair-seg[deepspeed]' (DeepSpeed trains on CUDA GPUs)") from None
    ensure_writable_dir(cfg.work_dir, 'work directory')
    check_dataset_folders(cfg, [s for s in splits if cfg.get(f'{s}_cfg')])
    return RUNNERS.build(cfg)


def run_training(cfg: Config) -> None:
    """``build_runner(cfg).train()``, with a constructor's key mismatch in any runner (also
    mmengine's ``FlexibleRunner``, which ``AltairRunner``'s own naming does not reach) one
    :class:`ConfigBuildError` naming the config key whose type it is about."""
    with naming_the_section(lambda exc: section_of(cfg, exc)):
        build_runner(cfg).train()


def num_workers(distributed: bool | int = False, gpus: int | None = None,
                processes: int | None = None) -> int:
    """How many training processes ``distributed`` / ``processes`` / ``gpus`` ask for here.

    ``processes=N``: N CPU processes (gloo). ``gpus=N``: N processes, one per GPU, at most
    the visible GPUs (as ``alt.predict``). ``distributed=True``: one per visible GPU (``gpus``
    of them if given); without a GPU, one (logged: ``processes=N`` runs N CPU processes).
    ``distributed=N``: N.

    Raises:
        TrainOptionError: a count below 1, ``gpus`` beyond the visible GPUs, or counts that
            disagree.
    """
    import torch
    for name, value in (('distributed', distributed), ('gpus', gpus),
                        ('processes', processes)):
        if value is not None and not isinstance(value, bool) and \
                (not isinstance(value, int) or value < 0):
            raise TrainOptionError(f'{name} must be True/False or a number of processes '
                                   f'>= 1, got {value!r}')
    if processes and gpus:
        raise TrainOptionError(f'processes={processes} and gpus={gpus}: give one (processes '
                               'for CPU processes, gpus for one process per GPU)')
    visible = torch.cuda.device_count()
    if gpus and gpus > visible:
        raise TrainOptionError(f'gpus={gpus} but {visible} GPU(s) are visible'
                               + ('; processes=N trains in N CPU processes'
                                  if not visible else ''))
    asked = processes or gpus
    if distributed is True:
        if asked:
            return asked
        if not visible:
            logger.warning('distributed=True but no GPU is visible: training in one process '
                           '(processes=N runs N CPU processes over gloo)')
        return max(visible, 1)
    if distributed and asked and distributed != asked:
        raise TrainOptionError(f'distributed={distributed} and '
                               f"{'processes' if processes else 'gpus'}={asked} disagree")
    return max(int(distributed or 0), asked or 0, 1)


def _check_grad_accum(grad_accum) -> None:
    if grad_accum is not None and (not isinstance(grad_accum, int)
                                   or isinstance(grad_accum, bool) or grad_accum < 1):
        raise TrainOptionError(f'grad_accum must be an int >= 1, got {grad_accum!r}')


def _open_run(config, cfg_options, *, work_dir, resume, root) -> tuple[Run, Config, bool]:
    """(run, loaded config, whether it resumes) for ``train``'s arguments."""
    if resume and resume is not True:  # a run id or Run: continue it with its saved config
        run = load_run(resume, root)
        return run, read_config(run.config_path, cfg_options=cfg_options), True
    source = None if isinstance(config, (dict, Config)) else str(config)
    cfg = load_config(config, cfg_options=cfg_options)
    if resume:
        same = [r for r in list_runs(root) if (
            work_dir is not None and r.work_dir == Path(work_dir).resolve()) or (
            work_dir is None and r.info.get('config_name') == run_name(config)
            and r.status != 'finished')]
        if same:
            run = same[-1]
            return run, read_config(run.config_path, cfg_options=cfg_options), True
        if work_dir is None:
            raise RunNotFoundError(f"nothing to resume: no unfinished run of '{run_name(config)}'"
                                   f" in the run store; pass resume=<run id> or a work_dir")
    run = create_run(run_name(config), root=root, work_dir=work_dir, source=source)
    return run, cfg, bool(resume)  # resume + a new record: mmengine resumes from work_dir


def train(config, *, work_dir: str | os.PathLike | None = None,
          distributed: bool | int = False, processes: int | None = None,
          gpus: int | None = None, precision: str | None = None,
          grad_accum: int | None = None, resume: bool | str | Run = False,
          seed: int | None = None, cfg_options: dict | None = None,
          root: str | os.PathLike | None = None, launcher: str | None = None,
          track: str | list[str] | None = None, verbose: bool | None = None,
          amp: str | None = None) -> Run:
    """Train ``config`` as a run in the run store and return it when training ends.

    Args:
        config: a Python, YAML or JSON config file, an mmengine ``Config`` or a dict.
        work_dir: checkpoints and logs (default: the run's own folder).
        distributed: ``True`` = one worker per visible GPU, ``N`` = N workers (gloo on the
            CPU), launched by torch's elastic launcher.
        processes: train in N CPU processes (gloo), as ``alt.predict(processes=N)``.
        gpus: train in N processes, one per GPU (at most the visible GPUs).
        precision: ``'auto'`` (bf16 where native, else fp32), ``'fp32'``, ``'bf16'`` (also
            on the CPU) or ``'fp16'`` (CUDA); default: the config's optim wrapper.
        grad_accum: accumulate gradients over N iterations per optimizer step.
        resume: ``True`` continues the latest unfinished run of this config (or the one in
            ``work_dir``); a run id continues that run with its saved config.
        seed: random seed.
        cfg_options: config keys to override, e.g. ``{'train_cfg.max_iters': 100}``.
        root: runs root (default ``$ALTAIR_HOME/runs`` or ``./runs``).
        launcher: mmengine launcher of an outside-launched job (default: detected from
            RANK / WORLD_SIZE or SLURM_* in the environment).
        track: ``'tensorboard'``, ``'mlflow'`` or both (see :mod:`altair.engine.tracking`);
            default: the config's ``track`` key.
        verbose: ``True``: mmengine's log on the console as it comes; ``False``: a progress
            display, the log in the run's log file only (what ``altair train`` shows without
            ``--verbose``); default: the config's ``console`` key, else ``True``.
        amp: the former name of ``precision`` (deprecated: warns once).

    An ``accelerate launch``-ed process also takes the precision, gradient accumulation and
    FSDP / DeepSpeed choice of ``accelerate config`` from its environment (see
    :mod:`altair.engine.accelerate_env`); ``amp``, ``grad_accum`` and the config win.

    Raises:
        TrainingFailedError: a worker failed (its rank and error are in the message).
    """
    _check_grad_accum(grad_accum)
    amp = renamed_keyword('amp', amp, 'precision', precision)  # the internals' name
    import torch
    check_accelerate_env(os.environ, cuda=torch.cuda.is_available())  # before a run opens
    launcher = launcher or detect_launcher()
    if launcher == 'none' and one_process_fsdp(os.environ):
        launcher = 'pytorch'  # FSDP needs a process group, even of one process
    if launcher != 'none':  # one rank of a job started by torchrun / accelerate / Slurm
        return _train_as_rank(config, launcher, work_dir=work_dir, amp=amp,
                              grad_accum=grad_accum, resume=resume, seed=seed,
                              cfg_options=cfg_options, root=root, track=track,
                              verbose=verbose)
    n = num_workers(distributed, gpus, processes)
    run, cfg, resuming = _open_run(config, cfg_options, work_dir=work_dir, resume=resume,
                                   root=root)
    run.set_status('running')
    with _recording(run):
        cfg = compile_config(cfg, CompileOptions(
            work_dir=run.work_dir, amp=amp, resume=resuming, launcher='none', accelerate=True,
            run=run, grad_accum=grad_accum, seed=seed, track=track, verbose=verbose))
        cfg.dump(str(run.config_path))
        with _sigterm_as_interrupt():
            if n > 1:
                _launch_workers(run, n)
            else:
                run_training(cfg)
    return run


def _train_as_rank(config, launcher, *, work_dir, amp, grad_accum, resume, seed, cfg_options,
                   root, track=None, verbose=None) -> Run:
    """Join an outside-launched job: rank 0 opens the run and tells the others its id."""
    from mmengine.dist import broadcast_object_list, get_rank

    init_distributed(launcher)
    holder: list = [None]
    if get_rank() == 0:
        try:
            run, cfg, resuming = _open_run(config, cfg_options, work_dir=work_dir,
                                           resume=resume, root=root)
            holder = [(run.id, str(run.dir), resuming, cfg.to_dict())]
        except Exception as exc:  # every rank must leave the broadcast
            holder = [exc]
    broadcast_object_list(holder)  # every rank trains rank 0's config, none reads a file
    if isinstance(holder[0], Exception):
        raise holder[0]
    run_id, run_dir, resuming, cfg_dict = holder[0]
    run, cfg = Run(run_id, Path(run_dir)), Config(cfg_dict)
    if cfg.get('custom_imports'):  # rank 0 imported them while loading; the others do here
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    rank0 = get_rank() == 0
    with _recording(run, record=rank0):  # rank 0 alone writes run.json
        cfg = compile_config(cfg, CompileOptions(
            work_dir=run.work_dir, amp=amp, resume=resuming, launcher=launcher,
            accelerate=True, log=rank0, run=run, grad_accum=grad_accum, seed=seed,
            track=track, verbose=verbose, record=rank0))
        if rank0:
            run.set_status('running')
            dumped = Config(cfg.to_dict())
            dumped.launcher = 'none'
            dumped.dump(str(run.config_path))
        with _sigterm_as_interrupt():
            run_training(cfg)
    return run


def _launch_workers(run: Run, n: int) -> None:
    """Train ``run``'s saved config on ``n`` local processes (each running
    ``python -m altair.api.worker``)."""
    try:
        launch_local(n, 'altair.api.worker', str(run.config_path), str(threads_per_worker(n)),
                     run_id=run.id)
    except WorkerFailedError as exc:
        raise TrainingFailedError(str(exc)) from None


@contextmanager
def _recording(run: Run, *, record: bool = True):
    """Record how the body ends in ``run``'s status (when ``record``): ``finished``,
    ``interrupted`` (KeyboardInterrupt, also SIGTERM via :func:`_sigterm_as_interrupt`) or
    ``failed`` with the error; the exception propagates."""
    try:
        yield
    except KeyboardInterrupt:
        if record:
            run.set_status('interrupted')
        raise
    except BaseException as exc:
        if record:
            run.set_status('failed', error=f'{type(exc).__name__}: {exc}')
        raise
    if record:
        run.set_status('finished')


@contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt while training, so the run is marked interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f'signal {signum}')
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
