"""RunMetricsHook and AltairCheckpointHook without a training."""
from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

import pytest
import torch
from mmengine.logging import MessageHub

from altair.engine.hooks import (AltairCheckpointHook, CheckpointWriteError, NonFiniteLossError,
                                 RngStateHook, RunMetricsHook, StopOnNonFiniteLossHook)


class FakeRunner:
    """What the hooks read of a Runner; ``save_checkpoint`` can crash half-way."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = str(work_dir)
        self.message_hub = MessageHub.get_instance(f'fake-{work_dir}')
        self.logger = logging.getLogger('fake')
        self.iter, self.epoch, self.crash = 0, 0, None

    def save_checkpoint(self, out_dir, filename, *args, **kwargs) -> None:
        path = Path(out_dir) / filename
        path.write_bytes(b'half')
        if self.crash is not None:
            raise self.crash
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
    runner.crash = KeyboardInterrupt('killed while saving')
    with pytest.raises(KeyboardInterrupt):
        _save(hook, runner, 3)
    last = Path((tmp_path / 'last_checkpoint').read_text())
    assert last == tmp_path / 'iter_2.pth' and last.read_bytes() == b'complete'
    assert not (tmp_path / 'iter_3.pth').exists()
    runner.crash = None
    _save(hook, runner, 3)  # rerun after the crash
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_3.pth')
    assert sorted(p.name for p in tmp_path.glob('iter_*')) == ['iter_3.pth']


def test_prepare_config_makes_checkpoint_hooks_crash_safe():
    from altair.config import load_config
    from altair.api.compile import compile_config
    cfg = compile_config(load_config('configs/pspnet.py'), work_dir='w', launcher='none')
    assert cfg.default_hooks.checkpoint.type == 'AltairCheckpointHook'
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 1  # the options are kept


def test_config_amp_key_is_the_amp_option():
    from altair.config import load_config
    from altair.api.compile import compile_config
    cfg = load_config('configs/pspnet.py', cfg_options={'precision': 'bf16'})
    cfg.optim_wrapper = dict(type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer)
    cfg = compile_config(cfg, work_dir='w', launcher='none')
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper' and 'precision' not in cfg


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


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path):
    runner = FakeRunner(tmp_path)
    hook = AltairCheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=1)
    hook.before_train(runner)
    _save(hook, runner, 1)
    runner.crash = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with pytest.raises(CheckpointWriteError) as info:
        _save(hook, runner, 2)
    assert str(info.value) == (
        f'could not write checkpoint iter_2.pth in {tmp_path} (No space left on device); the '
        f'previous checkpoint {tmp_path}/iter_1.pth is intact and last_checkpoint still names '
        'it. Free space (or fix the folder) and continue with --resume')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['iter_1.pth', 'last_checkpoint']
    assert (tmp_path / 'iter_1.pth').read_bytes() == b'complete'
    runner.crash = None
    _save(hook, runner, 2)  # space freed: the next save works and prunes iter_1
    assert sorted(p.name for p in tmp_path.glob('iter_*')) == ['iter_2.pth']


def test_a_crash_while_saving_a_new_best_keeps_the_previous_best(tmp_path):
    runner = FakeRunner(tmp_path)
    hook = AltairCheckpointHook(interval=1, by_epoch=False, save_best='mIoU', rule='greater')
    hook.before_train(runner)
    runner.iter = 1
    hook._save_best_checkpoint(runner, {'mIoU': 0.5})
    assert (tmp_path / 'best_mIoU_iter_1.pth').read_bytes() == b'complete'
    runner.iter, runner.crash = 2, KeyboardInterrupt('killed while saving')
    with pytest.raises(KeyboardInterrupt):
        hook._save_best_checkpoint(runner, {'mIoU': 0.6})
    # mmengine would have deleted best_mIoU_iter_1.pth before writing the new one
    assert sorted(p.name for p in tmp_path.iterdir()) == ['best_mIoU_iter_1.pth']
    assert (tmp_path / 'best_mIoU_iter_1.pth').read_bytes() == b'complete'
    assert type(runner).save_checkpoint is runner.save_checkpoint.__func__  # restored
    runner.crash = None
    hook._save_best_checkpoint(runner, {'mIoU': 0.7})
    assert sorted(p.name for p in tmp_path.iterdir()) == ['best_mIoU_iter_2.pth']
    runner.iter = 3
    hook._save_best_checkpoint(runner, {'mIoU': 0.1})  # worse: nothing changes
    assert sorted(p.name for p in tmp_path.iterdir()) == ['best_mIoU_iter_2.pth']


def test_non_finite_loss_stops_before_the_checkpoint(tmp_path):
    runner = FakeRunner(tmp_path)
    runner.iter = 6
    runner.message_hub.update_info('last_ckpt', str(tmp_path / 'iter_6.pth'))
    hook = StopOnNonFiniteLossHook()
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(1.5)})  # finite: nothing
    with pytest.raises(NonFiniteLossError) as info:
        hook.after_train_iter(runner, 0, outputs={
            'loss': torch.tensor(float('nan')), 'decode.loss_ce': torch.tensor(float('nan')),
            'aux.loss_ce': torch.tensor(0.25), 'decode.acc_seg': torch.tensor(50.0)})
    assert str(info.value) == (
        'loss is not finite at iteration 7 (loss=nan, decode.loss_ce=nan, aux.loss_ce=0.25); '
        f'training stopped and the last good checkpoint is {tmp_path}/iter_6.pth. Lower the '
        'learning rate, clip gradients (optim_wrapper.clip_grad=dict(max_norm=...)), use bf16 '
        'rather than fp16, or check the data for invalid values')
    assert hook.priority == 'ABOVE_NORMAL'  # runs before the checkpoint hook (VERY_LOW)


def test_rng_state_hook_restores_torch_random_state_at_the_first_resumed_iteration():
    hook = RngStateHook()
    torch.manual_seed(3)
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    expected = torch.rand(5)  # what the uninterrupted run draws next
    torch.manual_seed(99)  # a resumed process: another state
    resumed = RngStateHook()
    resumed.after_load_checkpoint(None, checkpoint)
    torch.rand(3)  # the loop replaying the data pipeline may draw meanwhile
    resumed.before_train_iter(None, 0)
    assert torch.equal(torch.rand(5), expected)
    state = torch.get_rng_state()
    resumed.before_train_iter(None, 1)  # only once
    assert torch.equal(torch.get_rng_state(), state)


def test_channels_last_hook_keeps_the_optimizer_and_the_numbers():
    """The hook converts the model in place (the optimiser still steps its parameters), and a
    training step gives the contiguous model's loss and gradients to float tolerance."""
    from types import SimpleNamespace

    from torch import nn

    from altair.engine.hooks import ChannelsLastHook
    torch.manual_seed(0)

    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.Conv2d(8, 2, 1))
    plain, nhwc = net(), net()
    optim = torch.optim.SGD(nhwc.parameters(), lr=0.1)
    before = [id(p) for p in nhwc.parameters()]
    ChannelsLastHook().before_run(SimpleNamespace(model=nhwc))
    assert [id(p) for p in nhwc.parameters()] == before
    assert nhwc[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 16, 16)
    out = nhwc(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    losses = [m(x).square().mean() for m in (plain, nhwc)]
    for loss in losses:
        loss.backward()
    assert torch.allclose(*losses, atol=1e-6)
    assert torch.allclose(plain[0].weight.grad, nhwc[0].weight.grad, atol=1e-5)
    w = nhwc[0].weight.detach().clone()
    optim.step()
    assert not torch.equal(w, nhwc[0].weight)


@pytest.mark.parametrize('max_iters', [8, 1])
def test_weight_average_hook_follows_the_shares_of_the_run(max_iters):
    """From ``begin * max_iters`` on, the averaged weights are the exponential average of the
    weights with momentum ``1 / (span * max_iters)`` (recomputed here); before, a copy. A run
    shortened below the planned start (here to 1 iteration) still trains."""
    from types import SimpleNamespace

    from torch import nn

    from altair.engine.hooks import WeightAverageHook
    from altair.errors import AltairError
    model = nn.Linear(1, 1, bias=False)
    hook = WeightAverageHook(begin=0.5, span=0.25)
    runner = SimpleNamespace(model=model, iter=0, max_iters=max_iters, epoch=0)
    hook.before_run(runner)
    hook.before_train(runner)
    m = min(1.0, 1 / (0.25 * max_iters))
    begin = int(0.5 * max_iters)
    ema = None
    for i, x in enumerate([3.0, -1.0, 2.0, 5.0, 0.5, 4.0, -2.0, 1.0][:max_iters]):
        with torch.no_grad():
            model.weight.fill_(x)
        runner.iter = i
        hook.after_train_iter(runner, i)
        # a copy up to the start (the first averaged step starts from the weights themselves)
        ema = x if i + 1 <= max(begin, 1) else (1 - m) * ema + m * x
        got = hook.ema_model.module.weight.item()
        assert got == pytest.approx(ema, abs=1e-6), i
    with pytest.raises(AltairError, match='begin 1.5'):
        WeightAverageHook(begin=1.5)
