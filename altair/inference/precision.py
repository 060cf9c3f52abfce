"""Precision choice for inference: fp32, bf16, fp16 autocast, or 'auto' by hardware."""
from __future__ import annotations

import functools

import torch

PRECISIONS = ('fp32', 'bf16', 'fp16', 'auto')


class PrecisionError(ValueError):
    """An unknown precision or one the device cannot run."""


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo).

    Without it bf16 is emulated and slower than fp32, so ``'auto'`` keeps fp32.
    """
    try:
        with open('/proc/cpuinfo') as f:
            flags = f.read()
    except OSError:
        return False
    return 'avx512_bf16' in flags or 'amx_bf16' in flags


def resolve_precision(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (``None`` = plain fp32).

    ``'auto'``: bf16 on CUDA devices that support it and on CPUs with native bf16, else fp32.
    ``'fp16'`` on the CPU is refused (no fast fp16 kernels there).
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
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if kind == 'cpu' and cpu_has_native_bf16() else None
