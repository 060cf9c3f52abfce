"""The console of `altair train` without --verbose: its pure pieces, and the hook's plain
output against the numbers mmengine logged to the run's files."""
from __future__ import annotations

import io
import json
import logging

import pytest

from altair.engine.progress import (format_duration, iou_table_text, log_file, plain_interval,
                                    quiet_console, train_line)


def test_plain_interval_is_the_logger_interval_but_at_least_ten_lines_per_run():
    assert plain_interval(40000, 50) == 50
    assert plain_interval(20, 25) == 2       # a short run is not silent until its end
    assert plain_interval(7, None) == 1
    assert plain_interval(1000, None) == 100


def test_train_line_and_durations():
    assert format_duration(59.6) == '1:00' and format_duration(3725) == '1:02:05'
    line = train_line(it=20, total=200, loss=1.23456, lr=1e-3, rate=2.0, miou=31.2)
    assert line == 'iter 20/200  loss 1.2346  lr 1.00e-03  2.00 it/s  eta 1:30  val mIoU 31.20'
    assert train_line(it=1, total=2, loss=None, lr=None, rate=0, miou=None) == 'iter 1/2'


def test_iou_table_lists_every_class_then_miou():
    text = iou_table_text({'aAcc': 80.0, 'mIoU': 42.5, 'IoU.water': 90.0, 'IoU.forest': 5.25})
    assert text.splitlines() == ['per-class IoU:', '  water    90.00', '  forest    5.25',
                                 '  mIoU     42.50']


def test_quiet_console_keeps_the_file_handler(tmp_path):
    logger = logging.getLogger('altair-test-quiet')
    logger.setLevel(logging.INFO)
    console, path = io.StringIO(), tmp_path / 'run.log'
    logger.handlers = [logging.StreamHandler(console), logging.FileHandler(path)]
    quiet_console(logger)
    logger.info('environment dump')
    logger.warning('a warning')
    for h in logger.handlers:
        h.flush()
    assert console.getvalue() == 'a warning\n'
    assert path.read_text() == 'environment dump\na warning\n'
    assert log_file(logger) == str(path)
    logger.handlers = []


@pytest.mark.slow
def test_plain_lines_carry_the_logged_loss_and_val_miou(small_bluemarble, tiny, tmp_path,
                                                        capsys):
    """Non-TTY, logger interval 1: a line per iteration whose loss and lr are what mmengine
    logged for it (its log processor's mean over the last 10 iterations), a val line and the
    per-class table equal to the run's metrics.json."""
    import altair as alt
    opts = dict(tiny.options(small_bluemarble, iters=4), **{'default_hooks.logger.interval': 1})
    capsys.readouterr()
    run = alt.train('configs/pspnet.py', cfg_options=opts, seed=0, root=tmp_path,
                    verbose=False)
    out = capsys.readouterr().out.splitlines()
    from altair.inference.precision import auto_reason, cpu_has_native_bf16
    chosen = 'bf16 autocast' if cpu_has_native_bf16() else 'fp32'
    assert f"altair: training precision 'auto': {chosen} on cpu ({auto_reason('cpu')})" in out
    lines = [ln for ln in out if ln.startswith('iter ')]
    assert [ln.split()[1] for ln in lines] == ['1/4', '2/4', '3/4', '4/4']  # interval 1
    logged = [json.loads(ln) for ln in next(run.work_dir.glob('*/vis_data/scalars.json'))
              .read_text().splitlines()]
    train = [e for e in logged if 'loss' in e]
    assert [float(ln.split('loss ')[1].split()[0]) for ln in lines] == pytest.approx(
        [e['loss'] for e in train], abs=1e-4)
    assert [float(ln.split('lr ')[1].split()[0]) for ln in lines] == pytest.approx(
        [e['lr'] for e in train], rel=1e-2)
    [val] = run.metrics
    assert f"val at iter 4: mIoU {val['mIoU']:.2f}" in '\n'.join(out)
    table = out[out.index('per-class IoU (last evaluation):') + 1:]
    assert table[0].split() == ['water', f"{val['IoU.water']:.2f}"]
    assert not any('System environment' in ln or 'Config:' in ln for ln in out)
    assert 'System environment' in open(next(run.work_dir.glob('*/*.log'))).read()


def test_terminal_display_shows_bars_and_the_table():
    """The rich path (a terminal): a train bar with the loss, lr and val mIoU, a val bar, and
    the per-class table, driven through the hook's calls as the loop makes them."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from altair.engine.progress import ConsoleProgressHook
    out = io.StringIO()
    hub = MessageHub.get_instance('altair-test-progress')
    runner = SimpleNamespace(iter=0, max_iters=4, message_hub=hub, hooks=[],
                             val_dataloader=[0, 1, 2], logger=logging.getLogger('x'),
                             optim_wrapper=None)
    hook = ConsoleProgressHook(rich=True, stream=out)
    hook.before_run(runner)
    hook.before_train(runner)
    for it in range(4):
        hub.update_scalar('train/loss', 2.0 - it * 0.25)
        hub.update_scalar('train/lr', 0.01)
        runner.iter = it
        hook.after_train_iter(runner, it)
    runner.iter = 4
    hook.before_val_epoch(runner)
    for i in range(3):
        hook.after_val_iter(runner, i)
    hook.after_val_epoch(runner, {'mIoU': 40.0, 'aAcc': 80.0, 'IoU.water': 70.0,
                                  'IoU.forest': 10.0})
    hook.after_run(runner)
    text = out.getvalue()
    assert 'val at iter 4: mIoU 40.00  aAcc 80.00' in text
    assert 'train' in text and '4/4' in text and 'loss 1.6250' in text  # mean of 4 losses
    assert 'per-class IoU' in text
    rows = [ln for ln in text.splitlines() if 'water' in ln or 'forest' in ln]
    assert any('70.00' in r for r in rows) and any('10.00' in r for r in rows)
