"""A console a person can read: one live progress display instead of mmengine's log stream.

``altair train`` / ``altair demo`` without ``--verbose`` set ``console = 'progress'`` in the
config. The runner then sends mmengine's log (environment, config, every logger line) to the
run's log file only (:func:`quiet_console`), and :class:`ConsoleProgressHook` shows, on rank 0:

- on a terminal, a rich progress bar: iteration/total, loss, lr, it/s, ETA and the last val
  mIoU; validation and testing get their own bar;
- elsewhere (CI, ``| tee``, a file), one plain line every ``interval`` iterations and one per
  validation;
- at the end, a table of the last validation's per-class IoU.

``console = 'verbose'`` (``--verbose``, and the Python API's default) keeps mmengine's output.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from typing import IO

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from altair.registry import HOOKS

CONSOLE_MODES = ('progress', 'verbose')


# mmengine warnings a user cannot act on (its own deprecations, a metric without a prefix):
# kept in the log file, off the progress console
_LIBRARY_NOISE = ('will be deprecated', 'is the alias of', 'The prefix is not set in metric')
# the OpenMMLab packages whose Python warnings (deprecations of their own APIs, defaults
# they announce) the progress console leaves out; --verbose shows them
LIBRARY_MODULES = r'(mmseg|mmengine|mmcv|mmpretrain)(\.|$)'


class _DropLibraryNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _LIBRARY_NOISE)


def quiet_console(logger: logging.Logger, level: int = logging.WARNING) -> None:
    """Raise ``logger``'s console handlers to ``level`` and drop mmengine's deprecation notices
    there: its file handler still gets every line. Other warnings and errors still reach the
    console."""
    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler) and \
                not isinstance(handler, logging.FileHandler):
            handler.setLevel(max(handler.level, level))
            if not any(isinstance(f, _DropLibraryNoise) for f in handler.filters):
                handler.addFilter(_DropLibraryNoise())


def quiet_for_progress(cfg, logger: logging.Logger) -> bool:
    """:func:`quiet_console` on ``logger`` when ``cfg`` says ``console = 'progress'``;
    returns whether it did."""
    if (cfg or {}).get('console') != 'progress':
        return False
    quiet_console(logger)
    return True


def hide_library_warnings() -> None:
    """Leave the OpenMMLab packages' Python warnings out of this process's console (the
    progress console of ``altair train`` / ``altair demo`` without ``--verbose``)."""
    import warnings
    warnings.filterwarnings('ignore', module=LIBRARY_MODULES)


def log_file(logger: logging.Logger) -> str | None:
    """The file ``logger`` writes to (mmengine's ``<work_dir>/<timestamp>/<timestamp>.log``)."""
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None


def plain_interval(max_iters: int, logger_interval: int | None) -> int:
    """Iterations between plain lines: the logger hook's interval, but at least ten lines per
    run (a short run is not silent until its end)."""
    tenth = max(1, math.ceil(max_iters / 10))
    return min(logger_interval, tenth) if logger_interval else tenth


def format_duration(seconds: float) -> str:
    """``1:02:03`` / ``2:03``."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f'{h}:{m:02d}:{s:02d}' if h else f'{m}:{s:02d}'


def train_line(*, it: int, total: int, loss: float | None, lr: float | None, rate: float,
               miou: float | None) -> str:
    """One plain progress line, e.g. ``iter 20/200  loss 1.234  lr 1.0e-03  2.1 it/s  eta
    1:26  val mIoU 31.20``."""
    parts = [f'iter {it}/{total}']
    if loss is not None:
        parts.append(f'loss {loss:.4f}')
    if lr is not None:
        parts.append(f'lr {lr:.2e}')
    if rate > 0:
        parts.append(f'{rate:.2f} it/s')
        parts.append(f'eta {format_duration((total - it) / rate)}')
    if miou is not None:
        parts.append(f'val mIoU {miou:.2f}')
    return '  '.join(parts)


def precision_note(optim_wrapper) -> str | None:
    """What a (possibly wrapped) optim wrapper computes in: Altair's own note where it has
    one (``'auto': fp32 on cpu (reason)``), else from mmengine's AMP wrapper, else fp32."""
    note = getattr(optim_wrapper, 'precision_note', None)
    if note:
        return note
    kind = type(optim_wrapper).__name__
    if kind == 'AmpOptimWrapper':
        return f"{str(getattr(optim_wrapper, 'cast_dtype', 'float16')).split('.')[-1]} autocast"
    return 'fp32' if kind == 'OptimWrapper' else None


def class_iou_rows(metrics: dict) -> list[tuple[str, float]]:
    """``(class, IoU)`` pairs of an evaluator result's ``IoU.<class>`` keys, in their order."""
    return [(k[len('IoU.'):], float(v)) for k, v in metrics.items() if k.startswith('IoU.')]


def iou_table_text(metrics: dict, *, title: str = 'per-class IoU') -> str:
    """The end-of-run table as plain text: a header, one line per class, then mIoU."""
    rows = class_iou_rows(metrics)
    width = max([len(n) for n, _ in rows] + [5])
    lines = [f'{title}:'] + [f'  {n:<{width}}  {v:6.2f}' for n, v in rows]
    if 'mIoU' in metrics:
        lines.append(f"  {'mIoU':<{width}}  {float(metrics['mIoU']):6.2f}")
    return '\n'.join(lines)


@HOOKS.register_module()
class ConsoleProgressHook(Hook):
    """Training, validation and test progress on the console (rank 0; see module docstring).

    Args:
        interval: iterations between plain lines when the output is not a terminal
            (default: :func:`plain_interval`).
        rich: force the live display on (True) or off (False); default: whether the stream
            is a terminal.
        stream: where to write (default ``sys.stdout``).
    """

    priority = 'LOW'  # after RuntimeInfoHook has put this iteration's loss and lr in the hub

    def __init__(self, *, interval: int | None = None, rich: bool | None = None,
                 stream: IO[str] | None = None) -> None:
        self.interval = interval
        self.stream = stream
        self.rich = rich
        self._progress = self._task = self._eval_task = None
        self._miou: float | None = None
        self._last_metrics: dict = {}
        self._t0 = self._t_eval = 0.0
        self._it0 = 0

    # ---- helpers
    def _out(self) -> IO[str]:
        return self.stream or sys.stdout

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self._out(), flush=True)

    def _use_rich(self) -> bool:
        return self.rich if self.rich is not None else self._out().isatty()

    @staticmethod
    def _scalar(runner, key: str, window: int = 1) -> float | None:
        hub = runner.message_hub
        if key not in hub.log_scalars:
            return None
        return float(hub.get_scalar(key).mean(window))

    # ---- run
    def before_run(self, runner) -> None:
        if not is_main_process():
            return
        path = log_file(runner.logger)
        if path:
            print(f'altair: full log in {path}', file=self._out(), flush=True)

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        note = precision_note(runner.optim_wrapper)
        if note:
            print(f'altair: training precision {note}', file=self._out(), flush=True)
        self._t0, self._it0 = time.perf_counter(), runner.iter
        total = runner.max_iters
        if self.interval is None:
            logger_hook = next((h for h in runner.hooks if type(h).__name__ == 'LoggerHook'),
                               None)
            self.interval = plain_interval(total, getattr(logger_hook, 'interval', None))
        if self._use_rich():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)
            self._progress = Progress(
                TextColumn('[bold]{task.description}'), BarColumn(), MofNCompleteColumn(),
                TextColumn('{task.fields[stats]}'), TimeRemainingColumn(),
                console=Console(file=self._out()), transient=False)
            self._progress.start()
            self._task = self._progress.add_task('train', total=total, completed=runner.iter,
                                                 stats='')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not is_main_process():
            return
        it, total = runner.iter + 1, runner.max_iters
        rate = (it - self._it0) / max(time.perf_counter() - self._t0, 1e-9)
        loss = self._scalar(runner, 'train/loss', window=min(10, it - self._it0))
        lr = self._scalar(runner, 'train/lr')
        if self._progress is not None:
            stats = '  '.join(p for p in (
                f'loss {loss:.4f}' if loss is not None else '',
                f'lr {lr:.2e}' if lr is not None else '', f'{rate:.2f} it/s',
                f'val mIoU {self._miou:.2f}' if self._miou is not None else '') if p)
            self._progress.update(self._task, completed=it, stats=stats)
        elif it % self.interval == 0 or it == total:
            self._print(train_line(it=it, total=total, loss=loss, lr=lr, rate=rate,
                                   miou=self._miou))

    # ---- validation and test
    def _start_eval(self, name: str, loader) -> None:
        self._t_eval = time.perf_counter()
        if self._progress is not None:
            try:
                total = len(loader)
            except TypeError:
                total = None
            self._eval_task = self._progress.add_task(name, total=total, stats='')

    def _eval_iter(self) -> None:
        if self._progress is not None and self._eval_task is not None:
            self._progress.advance(self._eval_task)

    def _end_eval(self, name: str, runner, metrics: dict | None) -> None:
        if self._progress is not None and self._eval_task is not None:
            self._progress.remove_task(self._eval_task)
            self._eval_task = None
        metrics = metrics or {}
        seconds = time.perf_counter() - self._t_eval
        shown = '  '.join(f'{k} {float(metrics[k]):.2f}' for k in ('mIoU', 'mAcc', 'aAcc')
                          if k in metrics)
        where = f' at iter {runner.iter}' if name == 'val' else ''
        self._print(f'{name}{where}: {shown or "no metrics"}  ({format_duration(seconds)})')
        if metrics:
            self._last_metrics = dict(metrics)

    def before_val_epoch(self, runner) -> None:
        if is_main_process():
            self._start_eval('val', runner.val_dataloader)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if is_main_process():
            self._eval_iter()

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        if not is_main_process():
            return
        if metrics and 'mIoU' in metrics:
            self._miou = float(metrics['mIoU'])
        self._end_eval('val', runner, metrics)

    def before_test_epoch(self, runner) -> None:
        if is_main_process():
            self._start_eval('test', runner.test_dataloader)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if is_main_process():
            self._eval_iter()

    def after_test_epoch(self, runner, metrics: dict | None = None) -> None:
        if is_main_process():
            self._end_eval('test', runner, metrics)

    def after_run(self, runner) -> None:
        if not is_main_process():
            return
        if self._progress is not None:
            self._progress.stop()
        table = self._last_metrics if class_iou_rows(self._last_metrics) else None
        self._progress = None
        if table is None:
            return
        if self._use_rich():
            from rich.console import Console
            from rich.table import Table
            out = Table(title='per-class IoU')
            out.add_column('class')
            out.add_column('IoU', justify='right')
            for name, value in class_iou_rows(table):
                out.add_row(name, f'{value:.2f}')
            if 'mIoU' in table:
                out.add_row('mIoU', f"{float(table['mIoU']):.2f}", style='bold')
            Console(file=self._out()).print(out)
        else:
            self._print(iou_table_text(table, title='per-class IoU (last evaluation)'))
