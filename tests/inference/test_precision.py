import pytest
import torch

from altair.inference import precision as prec


def test_resolve_precision(monkeypatch):
    assert prec.resolve_precision('fp32', 'cpu') is None
    assert prec.resolve_precision('bf16', 'cpu') is torch.bfloat16
    monkeypatch.setattr(prec, 'cpu_has_native_bf16', lambda: True)
    assert prec.resolve_precision('auto', 'cpu') is torch.bfloat16
    monkeypatch.setattr(prec, 'cpu_has_native_bf16', lambda: False)
    assert prec.resolve_precision('auto', 'cpu') is None


def test_precision_errors():
    with pytest.raises(prec.PrecisionError, match="'fp16' needs a GPU"):
        prec.resolve_precision('fp16', 'cpu')
    with pytest.raises(prec.PrecisionError, match="unknown precision 'int8'; choose one of fp32, bf16, fp16, auto"):
        prec.resolve_precision('int8', 'cpu')


def test_cpu_flag_detection_reads_cpuinfo():
    with open('/proc/cpuinfo') as f:
        flags = f.read()
    prec.cpu_has_native_bf16.cache_clear()
    assert prec.cpu_has_native_bf16() == ('avx512_bf16' in flags or 'amx_bf16' in flags)


def test_auto_never_picks_fp16_on_a_gpu_and_says_why(monkeypatch):
    """A GPU without bf16 gets fp32 from 'auto' (fp16 only when asked for); the reason the
    training log prints names the CPU flags."""
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    assert prec.resolve_precision('auto', 'cuda') is None
    assert prec.resolve_precision('fp16', 'cuda') is torch.float16
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: True)
    assert prec.resolve_precision('auto', 'cuda') is torch.bfloat16
    monkeypatch.setattr(prec, 'cpu_has_native_bf16', lambda: False)
    assert 'no AVX512-BF16 or AMX' in prec.auto_reason('cpu')
    monkeypatch.setattr(prec, 'cpu_has_native_bf16', lambda: True)
    assert 'native bf16' in prec.auto_reason('cpu')
