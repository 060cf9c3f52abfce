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

Every scheme mmengine's ``CheckpointLoader`` knows goes through the same weights-only load:
local paths, ``http(s)://`` (downloaded once into torch hub's checkpoint cache, then loaded;
mmengine's own loader unpickles them with ``weights_only=False``), and the model-zoo names
``torchvision://`` / ``modelzoo://``, ``open-mmlab://`` / ``openmmlab://`` and ``mmcls://``
(resolved to their URL or file by mmengine's tables, then the same).
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shlex
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import numpy as np
import torch

from altair.errors import AltairError, first_line
from altair.fileio import atomic_write


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
    # mmengine logs "Loads checkpoint by <name minus 'load_from_'> backend": names kept
    for prefixes, loader in (('', load_from_local), (('http://', 'https://'), load_from_http),
                             (('modelzoo://', 'torchvision://'), load_from_torchvision),
                             (('open-mmlab://', 'openmmlab://'), load_from_openmmlab),
                             ('mmcls://', load_from_mmcls)):
        CheckpointLoader.register_scheme(prefixes=prefixes, force=True)(loader)
    _ALLOWED = True


_ALLOWED = False


class UnsafeCheckpointError(AltairError, pickle.UnpicklingError):
    """A checkpoint holding objects that unpickling would have to construct by running code."""


class CheckpointReadError(AltairError, ValueError):
    """A checkpoint file that is truncated or not a PyTorch checkpoint at all."""


class CheckpointMissingError(AltairError, FileNotFoundError):
    """A checkpoint path that does not exist, or a model-zoo name no table lists."""


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
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        # torch's "PytorchStreamReader failed reading zip archive", a pickle cut short, ...
        first = first_line(exc, 160)
        raise CheckpointReadError(f"cannot read checkpoint '{path}': it is truncated or not a "
                                  f'PyTorch checkpoint ({first})') from None
    except pickle.UnpicklingError as exc:
        found = re.search(r'(?:GLOBAL|global) ([\w.]+)', str(exc))
        what = f"'{found.group(1)}'" if found else (
            f'an object that is not allowed ({str(exc).splitlines()[0]})')
        raise UnsafeCheckpointError(
            f"refusing to load checkpoint '{path}': it contains {what}, which is not a tensor, "
            'number or mmengine training state, and unpickling it could run code. If you trust '
            f'the file, convert it once and use the copy: {convert_command(path)}') from None


def convert_command(path) -> str:
    """A shell command that re-saves a trusted checkpoint's state_dict next to it; the path
    is quoted for Python and for the shell (a name holding quotes or ``$(...)`` stays a
    name)."""
    src, dst = json.dumps(str(path)), json.dumps(f'{path}.safe.pth')  # valid Python literals
    code = (f'import torch; c = torch.load({src}, weights_only=False); '
            f'torch.save(dict(state_dict=c.get("state_dict", c)), {dst})')
    return f'python -c {shlex.quote(code)}'


def load_from_local(filename, map_location=None):
    """mmengine's loader for local paths, weights-only (see :func:`safe_load`)."""
    path = os.path.expanduser(filename)
    if not os.path.isfile(path):
        raise CheckpointMissingError(f"checkpoint '{filename}' does not exist")
    return safe_load(path, map_location)


class CheckpointHashError(AltairError, ValueError):
    """A downloaded checkpoint whose SHA-256 is not the one its URL's ``#sha256=`` gives, or a
    URL fragment that is not ``sha256=<64 hex digits>``."""


SHA256_FRAGMENT = re.compile(r'sha256=([0-9a-fA-F]{64})')


def expected_sha256(url: str) -> str | None:
    """The SHA-256 (lower-case hex) that ``url``'s fragment ``#sha256=<64 hex digits>``
    asks the download to have; None without a fragment.

    Raises:
        CheckpointHashError: a fragment of another form (a fragment never reaches the
            server, so it can only be a mistyped hash).
    """
    fragment = urlparse(url).fragment
    if not fragment:
        return None
    found = SHA256_FRAGMENT.fullmatch(fragment)
    if found is None:
        raise CheckpointHashError(f"checkpoint '{url}': the URL fragment '#{fragment}' is not "
                                  "'sha256=<64 hex digits>'; give the file's SHA-256 that way "
                                  'or leave the fragment out')
    return found.group(1).lower()


def url_file_name(url: str) -> str:
    """The last part of ``url``'s path (``checkpoint.pth`` when it has none)."""
    return os.path.basename(urlparse(url).path) or 'checkpoint.pth'


def cache_name(url: str) -> str:
    """The file name ``url`` is cached under: 16 hex digits of the SHA-256 of the whole URL
    (fragment included), a dash, and :func:`url_file_name` to be read. Two URLs with one
    file name get two files; a file cached for a URL carrying ``#sha256=`` was checked
    against it."""
    return f'{hashlib.sha256(url.encode()).hexdigest()[:16]}-{url_file_name(url)}'


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of the file at ``path`` (lower-case hex), read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str) -> Path:
    """``url`` in torch hub's checkpoint cache (``$TORCH_HOME/hub/checkpoints``, under
    :func:`cache_name`), downloaded once; with several processes local rank 0 downloads
    while the others wait.

    A URL ending in ``#sha256=<64 hex digits>`` is checked: the download is hashed before it
    takes its cache name, and a mismatch removes it and raises. (A torch-hub style file name,
    ``name-<hex>.pth``, is checked against that prefix of its SHA-256 as well, by torch.)

    Raises:
        CheckpointMissingError: the download failed.
        CheckpointHashError: the download's SHA-256 differs from the ``#sha256=`` one, or the
            fragment is malformed.
    """
    import torch.distributed as dist
    from mmengine.dist import get_dist_info
    from torch.hub import HASH_REGEX, download_url_to_file, get_dir

    expected = expected_sha256(url)
    name = cache_name(url)
    path = Path(get_dir()) / 'checkpoints' / name
    rank, world = get_dist_info()
    local_rank = int(os.environ.get('LOCAL_RANK', rank))

    def fetch() -> None:
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        found = HASH_REGEX.search(url_file_name(url))
        # under a temporary name until checked: nothing unchecked is ever cached
        with atomic_write(path, tag=f'partial-{os.getpid()}') as tmp:
            try:
                download_url_to_file(urldefrag(url).url, str(tmp),
                                     found.group(1) if found else None, progress=False)
            except (OSError, RuntimeError) as exc:  # URLError, HTTPError; a hash mismatch
                raise CheckpointMissingError(f"checkpoint '{url}' could not be downloaded "
                                             f'({exc}); download it yourself and give its '
                                             'path') from None
            actual = file_sha256(tmp) if expected is not None else None
            if actual != expected:
                raise CheckpointHashError(
                    f"checkpoint '{url}': SHA-256 mismatch: expected {expected} (the URL's "
                    f'#sha256=), got {actual}; the download was removed')
    if local_rank == 0:
        fetch()
    if world > 1 and dist.is_initialized():
        dist.barrier()
    fetch()  # a rank on another machine; a no-op where the file is there
    return path


def load_from_http(filename, map_location=None):
    """``http(s)://`` checkpoints: downloaded (:func:`_download`), then :func:`safe_load`."""
    return safe_load(_download(filename), map_location)


def load_from_torchvision(filename, map_location=None):
    """``torchvision://NAME`` (``modelzoo://NAME``): mmengine's URL table, then weights-only."""
    from mmengine.runner.checkpoint import get_torchvision_models
    name = filename.split('://', 1)[1]
    return load_from_http(_zoo_entry(get_torchvision_models(), name, filename), map_location)


def load_from_openmmlab(filename, map_location=None):
    """``open-mmlab://NAME``: mmengine's table (a URL or a file under mmengine's home), then
    weights-only."""
    from mmengine.runner.checkpoint import (_get_mmengine_home, get_deprecated_model_names,
                                            get_external_models)
    name = filename.split('://', 1)[1]
    name = get_deprecated_model_names().get(name, name)
    where = _zoo_entry(get_external_models(), name, filename)
    if where.startswith(('http://', 'https://')):
        return load_from_http(where, map_location)
    return load_from_local(os.path.join(_get_mmengine_home(), where), map_location)


def load_from_mmcls(filename, map_location=None):
    """``mmcls://NAME``: mmengine's URL table, weights-only, keys renamed as mmengine does."""
    from mmengine.runner.checkpoint import _process_mmcls_checkpoint, get_mmcls_models
    name = filename.split('://', 1)[1]
    url = _zoo_entry(get_mmcls_models(), name, filename)
    return _process_mmcls_checkpoint(load_from_http(url, map_location))


def _zoo_entry(table: dict, name: str, filename: str) -> str:
    if name not in table:
        raise CheckpointMissingError(f"checkpoint '{filename}': '{name}' is not in mmengine's "
                                'model-zoo table')
    return table[name]
