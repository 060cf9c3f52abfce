"""Precision choice for inference: fp32, bf16, fp16 autocast, or 'auto' by hardware."""
from __future__ import annotations

import functools

import torch

from altair.errors import AltairError

PRECISIONS = ('fp32', 'bf16', 'fp16', 'auto')


class PrecisionError(AltairError, ValueError):
    """An unknown precision or one the device cannot run."""


NATIVE_BF16_FLAGS = ('avx512_bf16', 'amx_bf16')


def flags_have_native_bf16(cpuinfo: str) -> bool:
    """Whether ``/proc/cpuinfo`` text lists a CPU flag for native bf16 (AVX512-BF16, AMX-BF16)."""
    return bool(set(cpuinfo.split()) & set(NATIVE_BF16_FLAGS))


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo).

    Without them bf16 autocast is emulated and slower than fp32 (1.3x on an Intel Xeon with
    AVX512; a PSPNet training step did not finish in a minute, against 2.5 s in fp32, on an
    AMD EPYC Zen 3 without AVX512), so ``'auto'`` keeps fp32.
    """
    try:
        with open('/proc/cpuinfo') as f:
            return flags_have_native_bf16(f.read())
    except OSError:
        return False


def resolve_precision(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (``None`` = plain fp32).

    ``'auto'``: bf16 on CUDA devices that support it and on CPUs with native bf16, else fp32
    (never fp16: its range needs care a default should not hide). ``'fp16'`` on the CPU is
    refused (no fast fp16 kernels there).
    """
    if precision not in PRECISIONS:
        raise PrecisionError(f"unknown precision '{precision}'; choose one of "
                             f"{', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if precision == 'fp32':
        return None
    if precision == 'bf16':
        return torch.bfloat16
    if precision == 'fp16':
        if kind == 'cpu':
            raise PrecisionError("precision 'fp16' needs a GPU; use 'bf16' or 'auto' on the CPU")
        return torch.float16
    if kind == 'cuda':
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if kind == 'cpu' and cpu_has_native_bf16() else None


def auto_reason(device_type: str) -> str:
    """Why ``'auto'`` picks what it picks on ``device_type`` (for the log line)."""
    if device_type == 'cuda':
        return ('this GPU computes bf16' if torch.cuda.is_available()
                and torch.cuda.is_bf16_supported() else 'this GPU has no bf16')
    if device_type != 'cpu':
        return f'{device_type} is neither a CPU nor a CUDA GPU'
    if cpu_has_native_bf16():
        return 'this CPU has native bf16 (AVX512-BF16 or AMX)'
    return 'this CPU has no AVX512-BF16 or AMX: emulated bf16 is slower than fp32'
