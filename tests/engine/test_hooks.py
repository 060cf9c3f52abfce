"""RunMetricsHook and AltairCheckpointHook without a training."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from mmengine.logging import MessageHub

from altair.engine.hooks import AltairCheckpointHook, RunMetricsHook


class FakeRunner:
    """What the hooks read of a Runner; ``save_checkpoint`` can crash half-way."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = str(work_dir)
        self.message_hub = MessageHub.get_instance(f'fake-{work_dir}')
        self.logger = logging.getLogger('fake')
        self.iter, self.epoch, self.crash = 0, 0, False

    def save_checkpoint(self, out_dir, filename, *args, **kwargs) -> None:
        path = Path(out_dir) / filename
        path.write_bytes(b'half')
        if self.crash:
            raise KeyboardInterrupt('killed while saving')
        path.write_bytes(b'complete')


def _save(hook, runner, step) -> None:
    runner.iter = step
    hook._save_checkpoint_with_step(runner, step, meta={})


def test_a_crash_while_saving_keeps_the_last_complete_checkpoint(tmp_path):
    runner = FakeRunner(tmp_path)
    hook = AltairCheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=1)
    hook.before_train(runner)
    _save(hook, runner, 1)
    _save(hook, runner, 2)
    assert sorted(p.name for p in tmp_path.glob('iter_*')) == ['iter_2.pth']  # pruned after
    runner.crash = True
    with pytest.raises(KeyboardInterrupt):
        _save(hook, runner, 3)
    last = Path((tmp_path / 'last_checkpoint').read_text())
    assert last == tmp_path / 'iter_2.pth' and last.read_bytes() == b'complete'
    assert not (tmp_path / 'iter_3.pth').exists()  # only its '.iter_3.pth.partial'
    runner.crash = False
    _save(hook, runner, 3)  # rerun after the crash
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_3.pth')
    assert sorted(p.name for p in tmp_path.glob('iter_*')) == ['iter_3.pth']


def test_prepare_config_makes_checkpoint_hooks_crash_safe():
    from altair.api.config import load_config
    from altair.api.train import prepare_config
    cfg = prepare_config(load_config('configs/pspnet.py'), work_dir='w', launcher='none')
    assert cfg.default_hooks.checkpoint.type == 'AltairCheckpointHook'
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 1  # the options are kept


def test_config_amp_key_is_the_amp_option():
    from altair.api.config import load_config
    from altair.api.train import prepare_config
    cfg = load_config('configs/pspnet.py', cfg_options={'amp': 'bf16'})
    cfg.optim_wrapper = dict(type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer)
    cfg = prepare_config(cfg, work_dir='w', launcher='none')
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper' and 'amp' not in cfg


def test_run_metrics_hook_appends_and_replaces_after_a_resume(tmp_path):
    runner = FakeRunner(tmp_path)
    hook = RunMetricsHook(str(tmp_path / 'metrics.json'))
    for step, miou in ((2, 10.0), (4, 20.0)):
        runner.iter = step
        hook.after_val_epoch(runner, {'mIoU': miou, 'IoU.water': 50.0})
    runner.iter = 4  # resumed from iteration 2's checkpoint and validated at 4 again
    hook.after_val_epoch(runner, {'mIoU': 25.0})
    assert json.loads((tmp_path / 'metrics.json').read_text()) == [
        {'iter': 2, 'epoch': 0, 'mIoU': 10.0, 'IoU.water': 50.0},
        {'iter': 4, 'epoch': 0, 'mIoU': 25.0}]
