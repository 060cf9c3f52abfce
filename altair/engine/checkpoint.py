"""Safe checkpoint loading for mmengine under torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default; mmengine 0.10.7 checkpoints
carry a ``message_hub`` whose ``HistoryBuffer`` objects hold NumPy arrays and scalars, which the
weights-only unpickler rejects, so ``resume`` fails. Instead of turning ``weights_only`` off
(which lets a checkpoint run arbitrary code), the exact globals such checkpoints contain are
allow-listed; anything else is still refused by torch.

One of them needs care: ``HistoryBuffer`` pickles its statistics methods (protocol 2, torch's
default) as ``getattr(HistoryBuffer, 'mean')``, and mmengine's one-cycle scheduler keeps its
annealing function in its state (``getattr(OneCycleParamScheduler, '_annealing_cos')``). The
builtin ``getattr`` is *not* allowed; :func:`checkpoint_getattr` is registered under its name
instead and resolves only those attributes.
"""
from __future__ import annotations

import pickle

import numpy as np
import torch


def _getattr_allowed() -> dict:
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler
    return {HistoryBuffer: {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods},
            OneCycleParamScheduler: {'_annealing_cos', '_annealing_linear'}}


def checkpoint_getattr(obj, name: str):
    """Stand-in for ``builtins.getattr`` while unpickling: only ``HistoryBuffer.<statistic>``
    and ``OneCycleParamScheduler._annealing_<cos|linear>``."""
    if isinstance(obj, type) and name in _getattr_allowed().get(obj, ()):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}); '
        'only HistoryBuffer statistics and one-cycle annealing functions are allowed. If you '
        'trust this file, load it yourself with torch.load(path, weights_only=False) and '
        're-save its state_dict.')



def mmengine_checkpoint_globals() -> list:
    """The globals an mmengine/mmseg training checkpoint pickles besides tensors."""
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler

    try:  # NumPy 1.x layout
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - NumPy 2.x
        from numpy._core.multiarray import _reconstruct, scalar
    dtypes = [type(np.dtype(t)) for t in (
        np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
        np.uint8, np.bool_)]
    # the scheduler class is only ever a getattr target (see checkpoint_getattr)
    return [HistoryBuffer, OneCycleParamScheduler, _reconstruct, scalar, np.ndarray, np.dtype,
            *dtypes, (checkpoint_getattr, 'builtins.getattr')]


def allow_mmengine_checkpoints() -> None:
    """Allow-list :func:`mmengine_checkpoint_globals` for ``torch.load(weights_only=True)``."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
