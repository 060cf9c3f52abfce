"""Training curves of a run: loss, learning rate and validation metrics as one PNG.

mmengine's ``Runner`` writes, per launch,
``<work_dir>/<YYYYMMDD_HHMMSS>/vis_data/<YYYYMMDD_HHMMSS>.json`` (JSON lines from
``LoggerHook``) and usually ``scalars.json`` with the same lines (``LocalVisBackend``). Only the
timestamp file is read, so entries are not doubled; ``scalars.json`` is the fallback.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from altair.errors import AltairError
from altair.fileio import atomic_write

_VAL_METRICS = ('mIoU', 'mAcc', 'aAcc')
# keys every line may carry that are bookkeeping, not a metric
_BOOKKEEPING = frozenset({'step', 'iter', 'epoch', 'data_time', 'time', 'memory', 'eta'})


class NoTrainingLogError(AltairError, FileNotFoundError):
    """No mmengine scalar log was found under a work dir."""

    def __init__(self, work_dir: str | os.PathLike) -> None:
        super().__init__(
            f"no training logs under '{work_dir}' (expected <timestamp>/vis_data/<timestamp>.json "
            "written by mmengine's LoggerHook)")


def _log_files(work_dir: Path) -> list[Path]:
    """One JSON-lines file per launch folder, in folder-name (i.e. launch time) order."""
    launches = sorted(p.parent for p in work_dir.glob('*/vis_data'))
    if (work_dir / 'vis_data').is_dir():  # work_dir is itself a launch folder
        launches.insert(0, work_dir)
    files = []
    for launch in launches:
        stamped = launch / 'vis_data' / f'{launch.name}.json'
        fallback = launch / 'vis_data' / 'scalars.json'
        if stamped.is_file():
            files.append(stamped)
        elif fallback.is_file():
            files.append(fallback)
    return files


def read_scalar_logs(work_dir: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """Read the train and val scalar entries of a run, over all of its launches.

    Launch folders are concatenated in name order; where a resumed launch re-logs a step, the later
    entry wins. A line is a val entry when it has neither ``loss`` nor ``lr`` but has a metric key.
    Blank lines are skipped; lines that are not JSON objects with a ``step`` are skipped and counted
    in one ``warnings.warn``.

    Args:
        work_dir: The run's work dir (or one ``<timestamp>`` launch folder inside it).

    Returns:
        ``(train, val)``: lists of dicts, each sorted by ``step`` with unique steps.

    Raises:
        NoTrainingLogError: No log file exists under ``work_dir``.
    """
    files = _log_files(Path(work_dir))
    if not files:
        raise NoTrainingLogError(work_dir)
    train: dict[int, dict] = {}
    val: dict[int, dict] = {}
    bad = 0
    for path in files:
        for line in path.read_text(encoding='utf-8').splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                step = int(entry['step'])
            except (ValueError, TypeError, KeyError):
                bad += 1
                continue
            if 'loss' in entry or 'lr' in entry:
                train[step] = entry
            elif set(entry) - _BOOKKEEPING:
                val[step] = entry
    if bad:
        warnings.warn(f'skipped {bad} malformed line(s) in {", ".join(map(str, files))}',
                      stacklevel=2)
    return [train[s] for s in sorted(train)], [val[s] for s in sorted(val)]


def _save_png(fig, out: str | os.PathLike) -> Path:
    """``fig`` as the PNG ``out`` (its folder created; written atomically)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp:
        fig.savefig(tmp, format='png', dpi=100)
    return out


def _panel(ax, entries: list[dict], keys: list[str], title: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel('iteration')
    ax.set_ylabel(ylabel)
    drawn = False
    for key in keys:
        pts = [(e['step'], e[key]) for e in entries if isinstance(e.get(key), (int, float))]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, label=key, marker='o' if len(pts) == 1 else None)
            drawn = True
    if not drawn:
        ax.text(0.5, 0.5, 'no data', ha='center', va='center', transform=ax.transAxes, color='grey')
        return
    ax.grid(alpha=0.3)
    if len(keys) > 1:
        ax.legend(fontsize='small')


def plot_run(work_dir: str | os.PathLike, out: str | os.PathLike, *,
             title: str | None = None) -> Path:
    """Write a PNG with loss, learning-rate and validation-metric curves of a run.

    Args:
        work_dir: The run's work dir, read with :func:`read_scalar_logs`.
        out: Destination ``.png``; its parent folder is created. Written atomically.
        title: Figure title; defaults to the work dir's name.

    Returns:
        The path of the written PNG.

    Raises:
        NoTrainingLogError: No log file exists under ``work_dir``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    train, val = read_scalar_logs(work_dir)
    loss_keys = sorted({k for e in train for k in e if 'loss' in k and k != 'loss'})
    if any('loss' in e for e in train):
        loss_keys.insert(0, 'loss')
    val_keys = [k for k in _VAL_METRICS if any(k in e for e in val)]

    fig = Figure(figsize=(15, 4.5), layout='constrained')
    FigureCanvasAgg(fig)
    ax_loss, ax_lr, ax_val = fig.subplots(1, 3)
    _panel(ax_loss, train, loss_keys, 'training loss', 'loss')
    _panel(ax_lr, train, ['lr'], 'learning rate', 'lr')
    _panel(ax_val, val, val_keys or list(_VAL_METRICS), 'validation', 'metric')
    fig.suptitle(title if title is not None else Path(work_dir).resolve().name)

    return _save_png(fig, out)


def plot_runs(runs: list[tuple[str, str | os.PathLike]], out: str | os.PathLike) -> Path:
    """Overlay the curves of several runs: training loss, learning rate and validation mIoU,
    one line per run, as one PNG.

    Args:
        runs: ``(label, work_dir)`` per run, e.g. the run id and ``Run.work_dir``.
        out: destination ``.png`` (written atomically).

    Raises:
        NoTrainingLogError: a run without logs (named).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.5), layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    panels = (('training loss', 'loss', 0), ('learning rate', 'lr', 0),
              ('validation mIoU', 'mIoU', 1))
    logs = [(label, read_scalar_logs(work_dir)) for label, work_dir in runs]
    for ax, (title, key, which) in zip(axes, panels):
        ax.set_title(title)
        ax.set_xlabel('iteration')
        ax.set_ylabel(key)
        for label, entries in logs:
            pts = [(e['step'], e[key]) for e in entries[which]
                   if isinstance(e.get(key), (int, float))]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, label=label, marker='o' if len(pts) < 30 else None)
        ax.grid(alpha=0.3)
        ax.legend(fontsize='small')
    fig.suptitle(' vs '.join(label for label, _ in runs))
    return _save_png(fig, out)
