"""The run store: every training is a run with a short, unique, sortable id.

A run is a folder ``<runs root>/<id>/`` holding

- ``run.json``: id, config name and source, status (``running``, ``finished``, ``failed``,
  ``interrupted``), times, the error of a failed run, the process that trains it, and the
  work dir (the run folder itself unless the user chose another);
- ``config.py``: the resolved config the run trains with;
- ``metrics.json``: one entry per validation (``RunMetricsHook``), per-class IoU included;
- in the work dir: mmengine's checkpoints, ``last_checkpoint`` and logs.

The runs root is ``./runs``, or ``$ALTAIR_HOME/runs``, or the ``root`` argument. Ids look like
``20261126-1045-pspnet-3fa9`` (UTC minute, config name, 4 random hex digits), so sorting them
sorts runs by start time; any unique prefix names a run.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import json
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from altair.config import load_config
from altair.config_data import config_from_data
from altair.errors import AltairError
from altair.fileio import write_json

STATUSES = ('running', 'finished', 'failed', 'interrupted')
RUN_FILE = 'run.json'
METRICS_FILE = 'metrics.json'
CONFIG_FILE = 'config.py'


class RunNotFoundError(AltairError, KeyError):
    """No run matches the given id or prefix."""


class AmbiguousRunError(RunNotFoundError):
    """A prefix that matches more than one run."""


class NoCheckpointError(AltairError, FileNotFoundError):
    """A run that has not saved a checkpoint yet."""


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else ``$ALTAIR_HOME/runs``, else ``./runs``."""
    if root is not None:
        return Path(root)
    home = os.environ.get('ALTAIR_HOME')
    return Path(home) / 'runs' if home else Path('runs')


def run_name(config) -> str:
    """Short name of a config for run ids: the file name up to its first ``_``
    (``pspnet_r18-d16_...py`` → ``pspnet``), ``run`` for a dict or ``Config``."""
    if isinstance(config, (str, os.PathLike)):
        stem = Path(config).stem.split('_')[0].lower()
        stem = re.sub(r'[^a-z0-9-]+', '-', stem).strip('-')[:24]
        return stem or 'run'
    return 'run'


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass
class Run:
    """A training run in the store (see the module docstring for its files)."""
    id: str
    dir: Path

    @property
    def info(self) -> dict:
        """``run.json`` as a dict."""
        return json.loads((self.dir / RUN_FILE).read_text())

    @property
    def status(self) -> str:
        """``running``, ``finished``, ``failed`` or ``interrupted``; a run recorded as running
        whose process on this host has died (e.g. SIGKILL) reads as ``interrupted``."""
        info = self.info
        status = info['status']
        if status == 'running' and info.get('host') == socket.gethostname() \
                and info.get('pid') and not _pid_alive(int(info['pid'])):
            return 'interrupted'
        return status

    @property
    def work_dir(self) -> Path:
        """Where checkpoints and logs are (the run folder unless the user chose another)."""
        return Path(self.info.get('work_dir') or self.dir)

    @property
    def config_path(self) -> Path:
        return self.dir / CONFIG_FILE

    @property
    def config(self):
        """The resolved mmengine ``Config`` the run trains with, read as data
        (:func:`read_config`)."""
        return read_config(self.config_path)

    @property
    def metrics(self) -> list[dict]:
        """One dict per validation: ``iter``, ``epoch`` and every metric (e.g. ``mIoU``)."""
        path = self.dir / METRICS_FILE
        return json.loads(path.read_text()) if path.is_file() else []

    @property
    def best_metrics(self) -> dict | None:
        """The validation with the highest ``mIoU`` (or None before the first one)."""
        scored = [m for m in self.metrics if 'mIoU' in m]
        return max(scored, key=lambda m: m['mIoU']) if scored else None

    @property
    def last_checkpoint(self) -> Path | None:
        """The newest complete checkpoint mmengine recorded in ``last_checkpoint``."""
        record = self.work_dir / 'last_checkpoint'
        if not record.is_file():
            return None
        path = Path(record.read_text().strip())
        if not path.is_absolute() and not path.exists():
            path = self.work_dir / path.name
        return path if path.exists() else None  # a folder for sharded (FSDP 'local') ones

    @property
    def best_checkpoint(self) -> Path | None:
        """The checkpoint kept for the best validation mIoU (``best_mIoU_*.pth``)."""
        best = sorted(self.work_dir.glob('best_*.pth'), key=lambda p: p.stat().st_mtime)
        return best[-1] if best else None

    def checkpoint(self) -> Path:
        """Best checkpoint, else the last one.

        Raises:
            NoCheckpointError: the run has saved none yet.
        """
        path = self.best_checkpoint or self.last_checkpoint
        if path is None:
            raise NoCheckpointError(f"run '{self.id}' has no checkpoint yet (status "
                                    f"{self.status}; work dir {self.work_dir})")
        return path

    def set_status(self, status: str, *, error: str | None = None) -> None:
        """Record ``status`` (and the error of a failed run) in ``run.json``."""
        if status not in STATUSES:
            raise ValueError(f"unknown run status '{status}'; choose one of {', '.join(STATUSES)}")
        info = self.info
        info['status'] = status
        info['updated'] = _now().isoformat(timespec='seconds')
        if status == 'running':
            info.update(pid=os.getpid(), host=socket.gethostname(), error=None)
        if error is not None:
            info['error'] = error
        write_json(self.dir / RUN_FILE, info)

    def set_info(self, **fields) -> None:
        """Add or replace ``fields`` of ``run.json`` (e.g. ``tracking``)."""
        write_json(self.dir / RUN_FILE, dict(self.info, **fields))

    @property
    def tracking(self) -> dict[str, str]:
        """Where the run's trackers log (``{'tensorboard': ..., 'mlflow': ...}``)."""
        return dict(self.info.get('tracking') or {})

    def __str__(self) -> str:
        return self.id


def create_run(config_name: str, *, root: str | os.PathLike | None = None,
               work_dir: str | os.PathLike | None = None, source: str | None = None) -> Run:
    """Make a new run folder with a fresh id and status ``running``."""
    base = runs_root(root)
    base.mkdir(parents=True, exist_ok=True)
    stamp = _now()
    for _ in range(100):
        run_id = f"{stamp:%Y%m%d-%H%M}-{config_name}-{secrets.token_hex(2)}"
        try:
            (base / run_id).mkdir()
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - 65536 ids in one minute
        raise RuntimeError(f'could not find a free run id under {base}')
    run = Run(run_id, (base / run_id).resolve())
    write_json(run.dir / RUN_FILE, dict(
        id=run_id, config_name=config_name, config_source=source, status='running',
        created=stamp.isoformat(timespec='seconds'), updated=stamp.isoformat(timespec='seconds'),
        work_dir=str(Path(work_dir).resolve()) if work_dir else str(run.dir),
        pid=os.getpid(), host=socket.gethostname(), error=None))
    return run


def list_runs(root: str | os.PathLike | None = None) -> list[Run]:
    """Every run under the runs root, oldest first."""
    base = runs_root(root)
    if not base.is_dir():
        return []
    return [Run(p.name, p.resolve()) for p in sorted(base.iterdir())
            if (p / RUN_FILE).is_file()]


def load_run(run_id: str | Run, root: str | os.PathLike | None = None) -> Run:
    """The run with id ``run_id``, the only run whose id starts with it, or for ``'last'``
    the newest run.

    Raises:
        RunNotFoundError: no match (the message lists the closest ids).
        AmbiguousRunError: several runs start with the prefix (the message lists them).
    """
    if isinstance(run_id, Run):
        return run_id
    all_runs = list_runs(root)
    ids = [r.id for r in all_runs]
    if run_id == 'last' and all_runs:
        return all_runs[-1]
    if run_id in ids:
        return all_runs[ids.index(run_id)]
    matches = [r for r in all_runs if r.id.startswith(run_id)] if run_id else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AmbiguousRunError(f"run id prefix '{run_id}' is ambiguous: it matches "
                                f"{', '.join(r.id for r in matches)}")
    close = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.5)
    # a name like 'pspnet' should still point at the pspnet runs
    close += [i for i in reversed(ids) if run_id and run_id in i and i not in close][:3]
    hint = f"; closest: {', '.join(close)}" if close else (
        f'; {len(ids)} runs there' if ids else '; there are no runs there yet')
    raise RunNotFoundError(f"no run '{run_id}' under {runs_root(root)}{hint}")


def is_run_reference(value) -> bool:
    """Whether ``value`` names a run (a ``Run``, or a string that is not an existing file)."""
    if isinstance(value, Run):
        return True
    return isinstance(value, str) and not Path(value).exists() and \
        Path(value).suffix.lower() not in ('.py', '.yaml', '.yml', '.json', '.pth')


def is_saved_config(path) -> bool:
    """Whether ``path`` is the config a run saved (``<run>/config.py`` beside ``run.json``)."""
    if not isinstance(path, (str, os.PathLike)):
        return False
    path = Path(path)
    return path.name == CONFIG_FILE and (path.parent / RUN_FILE).is_file()


def read_config(config, *, cfg_options: dict | None = None):
    """``load_config`` for what the commands take as a config, except that a run's saved
    ``config.py`` (written by Altair as literals, but a run folder may be someone else's) is
    read as data, never executed (:mod:`altair.config_data`; ``--trust-config`` lifts it);
    its ``custom_imports`` may name any module this environment has.

    Raises:
        UntrustedConfigError: a saved config that only executing it could read.
    """
    if is_saved_config(config):
        config = config_from_data(Path(config).read_text(encoding='utf-8'), source=str(config),
                                  installed_modules=True)
    return load_config(config, cfg_options=cfg_options)


class CheckpointNotFoundError(AltairError, FileNotFoundError):
    """A checkpoint path that does not exist, or a config given without one."""


def resolve_model_source(source, checkpoint: str | os.PathLike | None = None,
                         root: str | os.PathLike | None = None):
    """``(config, checkpoint, run)`` of what the commands accept as a model: a run reference
    (id, unique id prefix, ``last`` or a ``Run``; its best, else last, checkpoint unless
    ``checkpoint`` is given; ``run`` is the ``Run``) or a config with its ``checkpoint``
    (``run`` is None).

    Raises:
        RunNotFoundError / NoCheckpointError: see :func:`load_run` and :meth:`Run.checkpoint`;
        CheckpointNotFoundError: a config without a checkpoint, or a checkpoint file that
            does not exist.
    """
    if is_run_reference(source):
        run = load_run(source, root)
        return run.config_path, Path(checkpoint) if checkpoint else run.checkpoint(), run
    if checkpoint is None:
        raise CheckpointNotFoundError(f"config '{source}' needs a checkpoint (or give a run id)")
    return source, Path(checkpoint), None


def resolve_checkpoint(source, root: str | os.PathLike | None = None) -> Path:
    """The checkpoint a run reference names (its best, else last) or the file ``source``.

    Raises:
        CheckpointNotFoundError: ``source`` is neither a run nor an existing file.
    """
    if is_run_reference(source):
        return load_run(source, root).checkpoint()
    if not Path(source).is_file():
        raise CheckpointNotFoundError(f"checkpoint '{source}' does not exist")
    return Path(source)


def compare_table(runs: list[Run]) -> str:
    """``altair runs --compare``: per-class IoU of each run's best validation side by side,
    then mIoU; ``-`` where a run has no such class or no validation yet."""
    best = [r.best_metrics or {} for r in runs]
    classes: list[str] = []
    for metrics in best:
        classes += [k for k in metrics if k.startswith('IoU.') and k not in classes]
    rows = [('CLASS', *(r.id for r in runs))]
    for key in classes + ['mIoU']:
        rows.append((key[len('IoU.'):] if key.startswith('IoU.') else key,
                     *(f'{m[key]:.2f}' if isinstance(m.get(key), (int, float)) else '-'
                       for m in best)))
    rows.append(('best at iter', *(str(m.get('iter', '-')) for m in best)))
    return text_table(rows, right=True)


def text_table(rows: list[tuple[str, ...]], *, right: bool = False) -> str:
    """Rows of strings as aligned columns two spaces apart, trailing blanks stripped; with
    ``right`` every column but the first is right-aligned (numbers)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return '\n'.join('  '.join(c.rjust(w) if right and i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in rows)
