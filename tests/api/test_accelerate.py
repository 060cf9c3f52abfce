"""`accelerate launch altair train`: the precision, accumulation and FSDP chosen in
`accelerate config` reach the runner (read back from the built runner by a test hook)."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
ACCELERATE = str(ROOT / '.venv' / 'bin' / 'accelerate') if (
    ROOT / '.venv' / 'bin' / 'accelerate').exists() else 'accelerate'


def _config(tmp_path, data_root, *, extra: str = '') -> str:
    """configs/segformer.py for 2 iterations on the real tiles, recording its runner."""
    path = tmp_path / 'segformer_acc.py'
    loaders = ''.join(f"{s}_dataloader = dict(num_workers=0, persistent_workers=False, "
                      f"dataset=dict(data_root='{data_root}'))\n" for s in ('train', 'val', 'test'))
    path.write_text(
        f"_base_ = ['{ROOT / 'configs' / 'segformer.py'}']\n"
        "train_cfg = dict(max_iters=2, val_interval=2)\n"
        "default_hooks = dict(checkpoint=dict(interval=2))\n" + loaders +
        "custom_imports = dict(imports=['tests.engine.rank_hooks'], allow_failed_imports=False)\n"
        f"custom_hooks = [dict(type='TestRecordSetupHook', path='{tmp_path / 'setup.json'}')]\n"
        + extra)
    return str(path)


def _launch(args, tmp_path, env=None):
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, 'OMP_NUM_THREADS': '2',
                               'ALTAIR_HOME': str(tmp_path / 'home'), **(env or {})})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads((tmp_path / 'setup.json').read_text())


def test_environment_sets_precision_and_accumulation(small_bluemarble, tmp_path, monkeypatch):
    """What `accelerate launch` exports (the DeepSpeed path also exports the accumulation):
    bf16 autocast and 2 iterations per optimizer step, logged once."""
    import logging

    import altair as alt
    monkeypatch.setenv('ACCELERATE_MIXED_PRECISION', 'bf16')
    monkeypatch.setenv('ACCELERATE_GRADIENT_ACCUMULATION_STEPS', '2')
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    log = logging.getLogger('altair')
    log.addHandler(handler)
    monkeypatch.setattr(log, 'level', logging.INFO)
    try:
        run = alt.train(_config(tmp_path, small_bluemarble), root=tmp_path / 'runs')
    finally:
        log.removeHandler(handler)
    setup = json.loads((tmp_path / 'setup.json').read_text())
    assert setup['optim_wrapper'] == 'AutocastOptimWrapper'
    assert setup['cast_dtype'] == 'torch.bfloat16' and setup['accumulative_counts'] == 2
    assert run.config.optim_wrapper.accumulative_counts == 2
    said = [r.getMessage() for r in records if r.getMessage().startswith('accelerate:')]
    assert said == ['accelerate: ACCELERATE_MIXED_PRECISION=bf16, '
                    'ACCELERATE_GRADIENT_ACCUMULATION_STEPS=2 -> precision=bf16, grad_accum=2']
    # flags and config win over the environment: tests/engine/test_accelerate_env.py


@pytest.mark.extended
def test_accelerate_launch_with_fsdp_selects_altairs_fsdp_strategy(small_bluemarble, tmp_path):
    """`accelerate launch --use_fsdp` (one CPU process here): FlexibleRunner with
    AltairFSDPStrategy, bf16 autocast from --mixed_precision; the run finishes."""
    proc, setup = _launch([ACCELERATE, 'launch', '--use_fsdp', '--num_processes', '1',
                           '--mixed_precision', 'bf16', '-m', 'altair', 'train', '--config',
                           _config(tmp_path, small_bluemarble)], tmp_path)
    assert setup['runner'] == 'AltairFlexibleRunner' and setup['strategy'] == 'AltairFSDPStrategy'
    assert setup['model'] == 'MMFullyShardedDataParallel'
    assert setup['optim_wrapper'] == 'AutocastOptimWrapper'
    assert 'accelerate: ACCELERATE_MIXED_PRECISION=bf16, ACCELERATE_USE_FSDP=true -> ' \
           'precision=bf16, strategy=fsdp' in proc.stderr
    assert proc.stdout.splitlines()[-1].split()[2] == 'finished:'


def test_deepspeed_without_cuda_is_a_clear_error(small_bluemarble, tmp_path, monkeypatch,
                                                 cli):
    monkeypatch.setenv('ACCELERATE_USE_DEEPSPEED', 'true')
    proc = cli('train', _config(tmp_path, small_bluemarble), '--runs-root', tmp_path / 'runs')
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        'error: ACCELERATE_USE_DEEPSPEED=true, but DeepSpeed trains on CUDA GPUs and none is '
        'visible: choose "no" for DeepSpeed in `accelerate config` (FSDP and DDP run on the CPU)')
    from altair.api.runs import list_runs
    assert list_runs(tmp_path / 'runs') == []  # refused before a run was opened
