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

from altair.errors import AltairError
from altair.inference import precision
from altair.registry import OPTIM_WRAPPERS

AMP_CHOICES = ('auto', 'fp32', 'bf16', 'fp16')
_DTYPES = {'fp16': 'float16', 'bf16': 'bfloat16'}


class AmpConfigError(AltairError, ValueError):
    """An AMP request that cannot run on this device."""


def native_bf16(device_type: str) -> bool:
    """bf16 is native here: a CUDA GPU that supports it, or a CPU with AVX512-BF16/AMX."""
    if device_type == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device_type == 'cpu' and precision.cpu_has_native_bf16()


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
                                 "(--precision bf16 / amp='bf16')")
        #: what this wrapper computes in, for the console (ConsoleProgressHook shows it)
        self.precision_note = f"{'bf16 autocast' if dtype != 'float16' else 'fp16 autocast'} " \
                              f'on {self.device_type}'
        if dtype == 'auto':
            dtype = 'bfloat16' if native_bf16(self.device_type) else None
            from mmengine.logging import print_log
            self.precision_note = (f"'auto': {'bf16 autocast' if dtype else 'fp32'} on "
                                   f'{self.device_type} ({precision.auto_reason(self.device_type)})')
            print_log(f'training precision {self.precision_note}', logger='current')
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
    """Return ``optim_wrapper`` config set to the precision ``amp``.

    - ``'auto'``: :class:`AutocastOptimWrapper` with ``dtype='auto'``: bf16 autocast where
      the hardware computes it natively (a bf16 GPU; a CPU with AVX512-BF16 or AMX), else
      fp32 — never fp16; the choice and its reason are logged when the wrapper is built.
    - ``'fp32'``: a plain ``OptimWrapper`` (no autocast).
    - ``'bf16'`` / ``'fp16'`` on CUDA: mmengine's ``AmpOptimWrapper`` (dynamic loss scaling
      for fp16). On the CPU bf16 uses :class:`AutocastOptimWrapper`; fp16 raises
      :class:`AmpConfigError` (decided: a clear error beats a silent fall-back that changes
      numerics).

    Args:
        optim_wrapper: the config's ``optim_wrapper`` dict (not modified).
        amp: ``None`` (unchanged) or one of :data:`AMP_CHOICES`.
        cuda: override CUDA detection (for tests).
    """
    if amp is None:
        return dict(optim_wrapper)
    if amp not in AMP_CHOICES:
        raise AmpConfigError(f"unknown amp '{amp}'; choose one of {', '.join(AMP_CHOICES)}")
    cuda = torch.cuda.is_available() if cuda is None else cuda
    # keys of the mixed-precision wrappers that a plain OptimWrapper does not take
    out = {k: v for k, v in optim_wrapper.items()
           if k not in ('dtype', 'device_type', 'loss_scale', 'use_fsdp')}
    if amp == 'fp32':
        out['type'] = 'OptimWrapper'
    elif amp == 'auto':
        out.update(type='AutocastOptimWrapper', dtype='auto',
                   device_type='cuda' if cuda else 'cpu')
    elif cuda:
        out['type'] = 'AmpOptimWrapper'
        out['dtype'] = _DTYPES[amp]
        if amp == 'fp16':
            out['loss_scale'] = optim_wrapper.get('loss_scale', 'dynamic')
    else:
        if amp == 'fp16':
            raise AmpConfigError('--precision fp16 needs a CUDA GPU (this run is on the CPU); '
                                 'use --precision bf16 or --precision auto on the CPU')
        out.update(type='AutocastOptimWrapper', dtype='bfloat16', device_type='cpu')
    return out
