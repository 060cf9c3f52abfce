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

import os
import pickle
import re

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
    """Allow-list :func:`mmengine_checkpoint_globals` for ``torch.load(weights_only=True)`` and
    make mmengine's local checkpoint loader (resume, ``load_from``, ``init_cfg`` Pretrained,
    ``load_checkpoint``) :func:`safe_load`."""
    global _ALLOWED
    if _ALLOWED:
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    from mmengine.runner.checkpoint import CheckpointLoader
    # mmengine logs "Loads checkpoint by <name minus 'load_from_'> backend": keep 'local'
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    _ALLOWED = True


_ALLOWED = False


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holding objects that unpickling would have to construct by running code."""


def safe_load(path, map_location=None):
    """``torch.load(path, weights_only=True)`` with mmengine's training state allowed.

    Raises:
        UnsafeCheckpointError: the file holds anything else (e.g. a pickle that calls
            ``os.system``), naming the file, the offending global and how to convert a file
            you trust.
    """
    allow_mmengine_checkpoints()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r'(?:GLOBAL|global) ([\w.]+)', str(exc))
        what = f"'{found.group(1)}'" if found else (
            f'an object that is not allowed ({str(exc).splitlines()[0]})')
        raise UnsafeCheckpointError(
            f"refusing to load checkpoint '{path}': it contains {what}, which is not a tensor, "
            'number or mmengine training state, and unpickling it could run code. If you trust '
            'the file, convert it once and use the copy: python -c "import torch; '
            f"c = torch.load('{path}', weights_only=False); "
            f"torch.save(dict(state_dict=c.get('state_dict', c)), '{path}.safe.pth')\"") from None


def load_from_local(filename, map_location=None):
    """mmengine's loader for local paths, weights-only (see :func:`safe_load`)."""
    path = os.path.expanduser(filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint '{filename}' does not exist")
    return safe_load(path, map_location)
