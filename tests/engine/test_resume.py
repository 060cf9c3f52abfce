"""A SIGKILLed training resumes to the same weights as one never interrupted; a NaN loss stops
training with the last good checkpoint kept."""
from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import torch

import altair as alt
from altair.engine.hooks import NonFiniteLossError

pytestmark = pytest.mark.slow
HOOKS = dict(imports=['tests.engine.rank_hooks'], allow_failed_imports=False)


@pytest.fixture
def bluemarble(small_bluemarble):
    """These runs check the flow, not the numbers: 3 val tiles do (see small_bluemarble)."""
    return small_bluemarble


def _opts(tiny, data_root, iters: int) -> dict:
    """configs/pspnet.py for a few iterations, a checkpoint after each, no validation; random
    crops, flips, photometric distortion, shuffling and dropout all stay on."""
    return dict(tiny.loaders(data_root), **{
        'train_cfg.max_iters': iters, 'train_cfg.val_interval': 1000,
        'default_hooks.checkpoint.interval': 1, 'default_hooks.checkpoint.save_best': None,
        'default_hooks.logger.interval': 1, 'val_cfg': None, 'val_dataloader': None,
        'val_evaluator': None, 'train_dataloader.batch_size': 2,
        'randomness': dict(seed=0, deterministic=True)})


def _state(path) -> dict:
    ckpt = torch.load(path, weights_only=True)
    return dict(ckpt['state_dict'], **{f'optimizer.{i}': s['momentum_buffer']
                                      for i, s in ckpt['optimizer']['state'].items()})


@pytest.mark.extended
def test_sigkill_at_a_random_iteration_then_resume_matches_an_uninterrupted_run(
        bluemarble, tiny, tmp_path, in_repo_root):
    iters = 6
    kill_at = random.randint(2, iters - 1)
    print(f'killing at iteration {kill_at}')  # shown on failure, to reproduce
    whole = alt.train('configs/pspnet.py', cfg_options=_opts(tiny, bluemarble, iters),
                      work_dir=tmp_path / 'whole', root=tmp_path / 'runs')
    killed = dict(_opts(tiny, bluemarble, iters), custom_imports=HOOKS, custom_hooks=[
        dict(type='TestKillRankHook', rank=0, after_iter=kill_at)])
    (tmp_path / 'opts.json').write_text(json.dumps(killed))
    code = ("import json, altair as alt\n"
            f"alt.train('configs/pspnet.py', cfg_options=json.load(open({str(tmp_path / 'opts.json')!r})),"
            f" work_dir={str(tmp_path / 'cut')!r}, root={str(tmp_path / 'runs')!r})\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == -9, proc.stderr[-3000:]  # SIGKILL
    last = (tmp_path / 'cut' / 'last_checkpoint').read_text().strip()
    assert last.endswith(f'iter_{kill_at - 1}.pth')  # iteration kill_at was lost
    resumed = alt.train('configs/pspnet.py', work_dir=tmp_path / 'cut', resume=True,
                        cfg_options=dict(custom_hooks=[]), root=tmp_path / 'runs')
    assert resumed.status == 'finished'
    a, b = _state(whole.work_dir / f'iter_{iters}.pth'), _state(tmp_path / 'cut' / f'iter_{iters}.pth')
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert differ == [], f'killed at {kill_at}: {len(differ)} tensors differ, e.g. {differ[:3]}'
    start = torch.load(tmp_path / 'cut' / f'iter_{iters}.pth', weights_only=True)
    assert start['meta']['iter'] == iters


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(bluemarble, tiny, tmp_path,
                                                                     in_repo_root):
    opts = dict(_opts(tiny, bluemarble, 6), custom_imports=HOOKS,
                custom_hooks=[dict(type='TestNaNLossHook', from_iter=3)])
    with pytest.raises(NonFiniteLossError) as info:
        alt.train('configs/pspnet.py', cfg_options=opts, work_dir=tmp_path / 'w',
                  root=tmp_path / 'runs')
    assert str(info.value).startswith(
        "loss is not finite at iteration 3 (loss=nan, decode.loss_ce=nan, aux.loss_ce=")
    assert f"training stopped and the last good checkpoint is {tmp_path / 'w' / 'iter_2.pth'}" \
        in str(info.value)
    assert sorted(p.name for p in (tmp_path / 'w').glob('iter_*.pth')) == ['iter_2.pth']
    weights = torch.load(tmp_path / 'w' / 'iter_2.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())
    assert alt.runs(tmp_path / 'runs')[-1].status == 'failed'
