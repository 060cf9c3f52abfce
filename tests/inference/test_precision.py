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
