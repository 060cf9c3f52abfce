"""`accelerate config` choices, read from the environment `accelerate launch` gives."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from altair.engine.accelerate_env import (AccelerateEnvError, apply_accelerate_env,
                                          config_precision, read_accelerate_env)


def _apply(cfg, env, amp=None, grad_accum=None, cuda=False):
    warnings, infos = [], []
    out = apply_accelerate_env(cfg, env, amp=amp, grad_accum=grad_accum, warn=warnings.append,
                               info=infos.append, cuda=cuda)
    return out, warnings, infos


def _cfg(**kw):
    return Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD')),
                       **kw))


def test_read_maps_accelerate_values():
    got = read_accelerate_env({'ACCELERATE_MIXED_PRECISION': 'no',
                               'ACCELERATE_GRADIENT_ACCUMULATION_STEPS': '4',
                               'ACCELERATE_USE_FSDP': 'true'})
    assert (got.amp, got.grad_accum, got.strategy) == ('fp32', 4, 'fsdp')
    assert read_accelerate_env({'ACCELERATE_MIXED_PRECISION': 'bf16'}).amp == 'bf16'
    assert read_accelerate_env({}).source == {}


@pytest.mark.parametrize('env, message', [
    ({'ACCELERATE_MIXED_PRECISION': 'fp8'}, "ACCELERATE_MIXED_PRECISION='fp8'"),
    ({'ACCELERATE_GRADIENT_ACCUMULATION_STEPS': '0'}, 'ACCELERATE_GRADIENT_ACCUMULATION_STEPS'),
    ({'ACCELERATE_USE_FSDP': 'maybe'}, "ACCELERATE_USE_FSDP='maybe'"),
    ({'ACCELERATE_USE_FSDP': 'true', 'ACCELERATE_USE_DEEPSPEED': 'true'}, 'both'),
])
def test_bad_values_are_named(env, message):
    with pytest.raises(AccelerateEnvError, match=message):
        read_accelerate_env(env)


def test_environment_fills_what_flags_and_config_leave_open():
    cfg = _cfg(amp='auto')
    (amp, accum), warnings, infos = _apply(cfg, {'ACCELERATE_MIXED_PRECISION': 'bf16',
                                                 'ACCELERATE_GRADIENT_ACCUMULATION_STEPS': '3'})
    assert (amp, accum, warnings) == ('bf16', 3, [])
    assert infos == ['accelerate: ACCELERATE_MIXED_PRECISION=bf16, '
                     'ACCELERATE_GRADIENT_ACCUMULATION_STEPS=3 -> amp=bf16, grad_accum=3']


def test_flags_and_config_win_with_a_warning():
    env = {'ACCELERATE_MIXED_PRECISION': 'bf16', 'ACCELERATE_GRADIENT_ACCUMULATION_STEPS': '3'}
    (amp, accum), warnings, _ = _apply(_cfg(), env, amp='fp32', grad_accum=2)
    assert (amp, accum) == ('fp32', 2) and len(warnings) == 2
    assert "--amp says precision 'fp32', ACCELERATE_MIXED_PRECISION says 'bf16'" in warnings[0]
    cfg = _cfg(amp='fp32')
    cfg.optim_wrapper['accumulative_counts'] = 5
    (amp, accum), warnings, _ = _apply(cfg, env)
    assert (amp, accum) == (None, None)  # the config's own values stay
    assert 'the config says' in warnings[0] and 'accumulating 5' in warnings[1]
    # agreeing values: no warning
    (amp, _), warnings, _ = _apply(_cfg(amp='bf16'), {'ACCELERATE_MIXED_PRECISION': 'bf16'})
    assert warnings == []


def test_config_precision_reads_the_wrapper():
    assert config_precision(Config(dict(optim_wrapper=dict(type='AmpOptimWrapper',
                                                           dtype='bfloat16')))) == 'bf16'
    assert config_precision(Config(dict(optim_wrapper=dict(type='AmpOptimWrapper')))) == 'fp16'
    assert config_precision(Config(dict(optim_wrapper=dict(type='AutocastOptimWrapper',
                                                           dtype='auto')))) is None
    assert config_precision(_cfg()) is None


def test_fsdp_and_deepspeed_select_a_strategy():
    cfg = _cfg()
    _apply(cfg, {'ACCELERATE_USE_FSDP': 'true'})
    assert cfg.strategy['type'] == 'altair.AltairFSDPStrategy'
    assert cfg.runner_type == 'FlexibleRunner'
    with pytest.raises(AccelerateEnvError, match='DeepSpeed trains on CUDA'):
        _apply(_cfg(), {'ACCELERATE_USE_DEEPSPEED': 'true'})
    cfg = _cfg()
    (amp, accum), _, _ = _apply(cfg, {'ACCELERATE_USE_DEEPSPEED': 'true',
                                      'ACCELERATE_MIXED_PRECISION': 'bf16',
                                      'ACCELERATE_GRADIENT_ACCUMULATION_STEPS': '2'}, cuda=True)
    assert cfg.strategy['type'] == 'DeepSpeedStrategy' and cfg.strategy['bf16'] == {
        'enabled': True} and cfg.strategy['gradient_accumulation_steps'] == 2
    assert cfg.optim_wrapper['type'] == 'DeepSpeedOptimWrapper' and (amp, accum) == (None, None)
    # a config with its own strategy keeps it
    cfg = _cfg(strategy=dict(type='DDPStrategy'))
    _, warnings, _ = _apply(cfg, {'ACCELERATE_USE_FSDP': 'true'})
    assert cfg.strategy['type'] == 'DDPStrategy' and 'training with the config' in warnings[0]
    with pytest.raises(AccelerateEnvError, match="runner_type is 'MyRunner'"):
        _apply(_cfg(runner_type='MyRunner'), {'ACCELERATE_USE_FSDP': 'true'})
