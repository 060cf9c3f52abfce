"""Mixed precision that also runs on the CPU.

mmengine's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU/MUSA device, so bf16 on the CPU needs
its own wrapper: :class:`AutocastOptimWrapper` runs the forward pass under mmengine's
``autocast`` (which supports ``device_type='cpu'`` with bfloat16) and steps like a plain
``OptimWrapper`` (bf16 has fp32's exponent range, so no loss scaling is needed).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from altair.registry import OPTIM_WRAPPERS

AMP_CHOICES = ('fp16', 'bf16')
_DTYPES = {'fp16': 'float16', 'bf16': 'bfloat16'}


class AmpConfigError(ValueError):
    """An AMP request that cannot run on this device."""


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo).

    Without them bf16 autocast is emulated: 1.3x slower than fp32 on an Intel Xeon with
    AVX512, and far slower on an AMD EPYC Zen 3 without AVX512 (a PSPNet step did not finish
    in a minute where fp32 takes 2.5 s).
    """
    if cpuinfo is None:
        try:
            with open('/proc/cpuinfo') as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return bool(flags & {'avx512_bf16', 'amx_bf16'})


def native_bf16(device_type: str) -> bool:
    """bf16 is native here: a CUDA GPU that supports it, or a CPU with AVX512-BF16/AMX."""
    if device_type == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast`` on any device.

    Args:
        dtype: ``'bfloat16'`` (default), ``'float16'`` or ``'auto'``: bf16 where it is native
            (see :func:`native_bf16`), else no autocast (fp32). float16 is refused on the
            CPU, where autocast has no fp16 kernels for convolutions worth using.
        device_type: ``'cpu'`` or ``'cuda'``; defaults to where CUDA is, else the CPU.
        **kwargs: passed to ``OptimWrapper`` (``optimizer``, ``accumulative_counts``, ...).
    """

    def __init__(self, *, dtype: str = 'bfloat16', device_type: str | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if dtype not in ('bfloat16', 'float16', 'auto'):
            raise AmpConfigError(f"AutocastOptimWrapper dtype '{dtype}': choose bfloat16, "
                                 'float16 or auto')
        self.device_type = device_type or ('cuda' if torch.cuda.is_available() else 'cpu')
        if self.device_type == 'cpu' and dtype == 'float16':
            raise AmpConfigError('fp16 autocast is not supported on the CPU; use bf16 '
                                 "(--amp bf16 / amp='bf16')")
        if dtype == 'auto':
            dtype = 'bfloat16' if native_bf16(self.device_type) else None
            from mmengine.logging import print_log
            print_log(f"AutocastOptimWrapper dtype 'auto': {dtype or 'float32 (no autocast)'} "
                      f'on {self.device_type}' + ('' if dtype else
                                                  ' (bf16 is not native here)'),
                      logger='current')
        self.cast_dtype = getattr(torch, dtype) if dtype else None

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        if self.cast_dtype is None:
            with super().optim_context(model):
                yield
            return
        from mmengine.runner.amp import autocast
        with super().optim_context(model), autocast(device_type=self.device_type,
                                                    dtype=self.cast_dtype):
            yield


def apply_amp(optim_wrapper: dict, amp: str | None, *, cuda: bool | None = None) -> dict:
    """Return ``optim_wrapper`` config turned into a mixed-precision one.

    On CUDA: mmengine's ``AmpOptimWrapper`` (dynamic loss scaling for fp16).
    On the CPU: bf16 uses :class:`AutocastOptimWrapper`; fp16 raises :class:`AmpConfigError`
    (decided: a clear error beats a silent fall-back that changes numerics).

    Args:
        optim_wrapper: the config's ``optim_wrapper`` dict (not modified).
        amp: ``None`` (unchanged), ``'fp16'`` or ``'bf16'``.
        cuda: override CUDA detection (for tests).
    """
    if amp is None:
        return dict(optim_wrapper)
    if amp not in AMP_CHOICES:
        raise AmpConfigError(f"unknown amp '{amp}'; choose one of {', '.join(AMP_CHOICES)}")
    cuda = torch.cuda.is_available() if cuda is None else cuda
    out = dict(optim_wrapper)
    if cuda:
        out['type'] = 'AmpOptimWrapper'
        out['dtype'] = _DTYPES[amp]
        if amp == 'fp16':
            out.setdefault('loss_scale', 'dynamic')
    else:
        if amp == 'fp16':
            raise AmpConfigError('--amp fp16 needs a CUDA GPU (this run is on the CPU); '
                                 'use --amp bf16 on the CPU')
        out['type'] = 'AutocastOptimWrapper'
        out['dtype'] = 'bfloat16'
        out['device_type'] = 'cpu'
    return out
