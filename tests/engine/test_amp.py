from __future__ import annotations

import pytest
import torch

from altair.engine.amp import AmpConfigError, AutocastOptimWrapper, apply_amp

BASE = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))


def test_apply_amp_none_keeps_config():
    assert apply_amp(BASE, None) == BASE


def test_apply_amp_cpu_bf16_uses_autocast_wrapper():
    out = apply_amp(BASE, 'bf16', cuda=False)
    assert out['type'] == 'AutocastOptimWrapper' and out['dtype'] == 'bfloat16'
    assert out['optimizer'] == BASE['optimizer'] and BASE['type'] == 'OptimWrapper'


def test_apply_amp_cuda_uses_mmengine_amp_with_dynamic_scaling_for_fp16():
    assert apply_amp(BASE, 'fp16', cuda=True) == dict(BASE, type='AmpOptimWrapper',
                                                      dtype='float16', loss_scale='dynamic')
    assert apply_amp(BASE, 'bf16', cuda=True)['dtype'] == 'bfloat16'


def test_fp16_on_cpu_and_unknown_mode_are_clear_errors():
    with pytest.raises(AmpConfigError, match='fp16 needs a CUDA GPU.*bf16'):
        apply_amp(BASE, 'fp16', cuda=False)
    with pytest.raises(AmpConfigError,
                       match="unknown amp 'fp8'; choose one of auto, fp32, bf16, fp16"):
        apply_amp(BASE, 'fp8')


def test_apply_amp_fp32_and_auto():
    """'fp32' undoes a config's mixed precision; 'auto' defers the choice to the wrapper."""
    mixed = dict(BASE, type='AmpOptimWrapper', dtype='bfloat16', loss_scale='dynamic')
    assert apply_amp(mixed, 'fp32') == BASE
    for cuda in (False, True):
        assert apply_amp(mixed, 'auto', cuda=cuda) == dict(
            BASE, type='AutocastOptimWrapper', dtype='auto',
            device_type='cuda' if cuda else 'cpu')


def test_autocast_wrapper_runs_forward_in_bf16_and_steps():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                                   device_type='cpu')
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(model.weight, before)


def test_autocast_wrapper_refuses_fp16_on_cpu():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(AmpConfigError, match='CPU'):
        AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                             dtype='float16', device_type='cpu')


def test_auto_dtype_is_bf16_only_where_native(monkeypatch):
    """dtype='auto': bf16 autocast with AVX512-BF16 or AMX in the CPU flags, fp32 without."""
    import torch

    from altair.engine import amp
    from altair.inference import precision
    from altair.inference.precision import flags_have_native_bf16
    assert flags_have_native_bf16('flags : fpu avx2 avx512f avx512_bf16 sse')
    assert flags_have_native_bf16('flags : fpu amx_bf16 amx_tile')
    assert not flags_have_native_bf16('flags : fpu avx avx2 avx512f avx512_vnni fma')
    model = torch.nn.Linear(4, 4)
    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda native=native: native)
        wrapper = amp.AutocastOptimWrapper(
            dtype='auto', device_type='cpu',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        with wrapper.optim_context(model):
            out = model(torch.ones(2, 4))
        assert out.dtype == expected
