"""`accelerate config` choices, read from the environment `accelerate launch` gives."""
from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config

from altair.engine.accelerate_env import (AccelerateEnvError, apply_accelerate_env,
                                          config_precision, read_accelerate_env)

ROOT = Path(__file__).resolve().parents[2]


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
    ({'ACCELERATE_USE_DEEPSPEED': 'true', 'ACCELERATE_DEEPSPEED_ZERO_STAGE': '4'},
     "ACCELERATE_DEEPSPEED_ZERO_STAGE='4': expected 0, 1, 2 or 3"),
])
def test_bad_values_are_named(env, message):
    with pytest.raises(AccelerateEnvError, match=message):
        read_accelerate_env(env)


def test_environment_fills_what_flags_and_config_leave_open():
    cfg = _cfg(precision='auto')
    (amp, accum), warnings, infos = _apply(cfg, {'ACCELERATE_MIXED_PRECISION': 'bf16',
                                                 'ACCELERATE_GRADIENT_ACCUMULATION_STEPS': '3'})
    assert (amp, accum, warnings) == ('bf16', 3, [])
    assert infos == ['accelerate: ACCELERATE_MIXED_PRECISION=bf16, '
                     'ACCELERATE_GRADIENT_ACCUMULATION_STEPS=3 -> precision=bf16, grad_accum=3']


def test_flags_and_config_win_with_a_warning():
    env = {'ACCELERATE_MIXED_PRECISION': 'bf16', 'ACCELERATE_GRADIENT_ACCUMULATION_STEPS': '3'}
    (amp, accum), warnings, _ = _apply(_cfg(), env, amp='fp32', grad_accum=2)
    assert (amp, accum) == ('fp32', 2) and len(warnings) == 2
    assert "--precision says precision 'fp32', ACCELERATE_MIXED_PRECISION says 'bf16'" in warnings[0]
    cfg = _cfg(precision='fp32')
    cfg.optim_wrapper['accumulative_counts'] = 5
    (amp, accum), warnings, _ = _apply(cfg, env)
    assert (amp, accum) == (None, None)  # the config's own values stay
    assert 'the config says' in warnings[0] and 'accumulating 5' in warnings[1]
    # agreeing values: no warning
    (amp, _), warnings, _ = _apply(_cfg(precision='bf16'), {'ACCELERATE_MIXED_PRECISION': 'bf16'})
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


def _built_wrapper(cfg):
    """mmengine's own optim-wrapper builder (the one FlexibleRunner's strategy calls) over the
    SegFormer model of the config."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from altair.config import load_model_config
    from altair.registry import MODELS
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_model_config(ROOT / 'configs/segformer.py').model)
        return model, build_optim_wrapper(model, cfg.optim_wrapper)


def test_deepspeed_wrapper_of_a_real_config_builds_with_mmengines_class():
    """configs/segformer.py under `accelerate launch --use_deepspeed`: its AutocastOptimWrapper
    keys (dtype='auto', clip_grad, accumulative_counts) would fail mmengine's
    DeepSpeedOptimWrapper; they move into the DeepSpeed config, and the wrapper that mmengine
    builds keeps the config's optimizer and per-parameter settings."""
    from mmengine._strategy.deepspeed import DeepSpeedOptimWrapper

    from altair.config import load_config
    cfg = load_config(ROOT / 'configs/segformer.py')
    cfg.optim_wrapper.update(clip_grad=dict(max_norm=0.5), accumulative_counts=3)
    as_written = dict(cfg.optim_wrapper, type='DeepSpeedOptimWrapper')
    with pytest.raises(TypeError, match="unexpected keyword argument '(dtype|clip_grad)'"):
        _built_wrapper(Config(dict(optim_wrapper=as_written)))  # what _set_strategy gave
    (amp, accum), warnings, infos = _apply(cfg, {'ACCELERATE_USE_DEEPSPEED': 'true',
                                                 'ACCELERATE_MIXED_PRECISION': 'bf16'},
                                           cuda=True)
    assert (amp, accum, warnings) == (None, None, [])
    assert infos[0] == ('accelerate: ACCELERATE_MIXED_PRECISION=bf16, ACCELERATE_USE_DEEPSPEED='
                        'true -> precision=bf16, strategy=deepspeed')
    assert infos[1] == ("DeepSpeedOptimWrapper takes only optimizer: dtype='auto' -> precision "
                        "bf16; clip_grad.max_norm=0.5 -> strategy.gradient_clipping; "
                        'accumulative_counts=3 -> strategy.gradient_accumulation_steps')
    assert cfg.strategy['gradient_clipping'] == 0.5
    assert cfg.strategy['gradient_accumulation_steps'] == 3
    assert cfg.strategy['bf16'] == {'enabled': True} and 'fp16' not in cfg.strategy
    # the batch and the buffers (BatchNorm statistics) in bf16 too, as the parameters
    assert cfg.strategy['inputs_to_half'] == ['inputs']
    assert cfg.strategy['config'] == {'data_types': {'buffer_dtype': 'bf16'}}
    assert sorted(cfg.optim_wrapper) == ['optimizer', 'paramwise_cfg', 'type']
    model, wrapper = _built_wrapper(cfg)
    assert type(wrapper) is DeepSpeedOptimWrapper
    assert type(wrapper.optimizer).__name__ == 'AdamW'
    # paramwise_cfg reached the optimizer: norms and position blocks without weight decay
    decay = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups
             for p in g['params']}
    named = dict(model.named_parameters())
    assert {decay[id(p)] for n, p in named.items() if 'norm' in n} == {0.0}
    assert 0.01 in {decay[id(p)] for n, p in named.items() if 'norm' not in n
                    and 'pos_block' not in n}
    assert all(g['lr'] == 1e-3 for g in wrapper.optimizer.param_groups)


def test_deepspeed_names_what_it_drops_and_keeps_the_strategys_own_values():
    cfg = _cfg(precision='fp16')
    cfg.optim_wrapper.update(type='AmpOptimWrapper', loss_scale=512.0, device_type='cuda',
                             clip_grad=dict(type='value', clip_value=0.1))
    (amp, _), warnings, infos = _apply(cfg, {'ACCELERATE_USE_DEEPSPEED': 'true'}, cuda=True)
    assert amp is None and 'precision' not in cfg  # prepare_config must not rebuild an Amp wrapper
    assert cfg.strategy['fp16'] == {'enabled': True, 'loss_scale': 512.0}
    assert cfg.optim_wrapper == {'type': 'DeepSpeedOptimWrapper',
                                 'optimizer': {'type': 'SGD'}}
    assert warnings == [
        'DeepSpeedOptimWrapper takes only optimizer: loss_scale=512.0 -> '
        "strategy.fp16.loss_scale; dropped device_type='cuda' (DeepSpeed places the model "
        "itself); dropped clip_grad={'type': 'value', 'clip_value': 0.1} (DeepSpeed clips "
        'only the global L2 norm: set strategy.gradient_clipping)']
    # a plain wrapper without extra keys: nothing to say
    cfg = _cfg()
    _, warnings, infos = _apply(cfg, {'ACCELERATE_USE_DEEPSPEED': 'true',
                                      'ACCELERATE_MIXED_PRECISION': 'no'}, cuda=True)
    assert warnings == [] and len(infos) == 1 and 'bf16' not in cfg.strategy
    assert 'inputs_to_half' not in cfg.strategy and cfg.strategy['zero_optimization']['stage'] == 2
    # the ZeRO stage chosen in `accelerate config`
    cfg = _cfg()
    _, _, infos = _apply(cfg, {'ACCELERATE_USE_DEEPSPEED': 'true',
                               'ACCELERATE_DEEPSPEED_ZERO_STAGE': '3'}, cuda=True)
    assert cfg.strategy['zero_optimization']['stage'] == 3
    assert infos == ['accelerate: ACCELERATE_USE_DEEPSPEED=true, ACCELERATE_DEEPSPEED_ZERO_STAGE=3 '
                     '-> strategy=deepspeed, zero_stage=3']
    assert cfg.optim_wrapper == {'type': 'DeepSpeedOptimWrapper', 'optimizer': {'type': 'SGD'}}


def test_deepspeed_optim_wrapper_keys_are_mmengines():
    from altair.engine.accelerate_env import deepspeed_optim_wrapper, deepspeed_wrapper_keys
    assert deepspeed_wrapper_keys() == ['optimizer']
    strategy = dict(gradient_clipping=1.0, bf16=dict(enabled=True))
    out, moved, dropped = deepspeed_optim_wrapper(
        dict(type='OptimWrapper', optimizer=dict(type='SGD'), clip_grad=dict(max_norm=2.0),
             dtype='float16', accumulative_counts=1), strategy)
    assert out == dict(type='DeepSpeedOptimWrapper', optimizer=dict(type='SGD'))
    assert strategy == dict(gradient_clipping=1.0, bf16=dict(enabled=True))
    assert moved == [] and dropped == [
        "clip_grad.max_norm=2.0 (the strategy's gradient_clipping=1.0 wins)",
        "dtype='float16' (the strategy's bf16 wins)"]
