"""``alt.load_model``: one front door for every form a trained model takes.

A run (id, unique prefix, ``'last'`` or a ``Run``: its best, else last, checkpoint), an
mmengine checkpoint (``.pth``; its config comes from the checkpoint's own ``meta``, or give
one), a config with its checkpoint, an exported ``.safetensors`` file (weights + header: the
model builds from it alone) or an exported ``.onnx`` file (run by onnxruntime).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

import altair.engine  # noqa: F401  (safe checkpoint globals)
import altair.models  # noqa: F401  (the registered segmentors)
from altair.api.runs import (CheckpointNotFoundError, is_run_reference, is_saved_config,
                             read_config, resolve_model_source)
from altair.config import load_model_config, raster_options, training_crop
from altair.config_checks import check_model_types, require_model
from altair.config_data import config_from_data
from altair.engine.checkpoint import CheckpointReadError, UnsafeCheckpointError, safe_load
from altair.errors import AltairError, first_line
from altair.fileio import file_identity
from altair.models.card import attach_card
from altair.models.portable import (HEADER_KEY, OnnxSegmentor, PortableModelError, apply_header,
                                    header_config, parse_header)

PORTABLE_SUFFIXES = ('.safetensors', '.onnx')


class ModelSourceError(AltairError, ValueError):
    """Something ``load_model`` cannot make a model of."""


def _segmentor(cfg, checkpoint: str | None, device: str, *, carried_by: str | None = None):
    """mmseg's ``init_model``. ``carried_by``: the file whose config this is (a checkpoint,
    a header, a saved run): a model it cannot build is one line naming that file, as it is
    someone else's data, not the user's code to debug."""
    from mmseg.apis import init_model

    if carried_by is None:
        return init_model(cfg, checkpoint, device=device)
    try:
        check_model_types(cfg.model)
    except AltairError as exc:  # an unknown type: named, with the file it came from
        raise type(exc)(f"'{carried_by}': {exc}") from None
    try:
        return init_model(cfg, checkpoint, device=device)
    except (CheckpointReadError, UnsafeCheckpointError):
        raise
    except Exception as exc:  # noqa: BLE001  (any failure of a foreign config: one line)
        raise ModelSourceError(f"'{carried_by}': the model its config describes cannot be "
                               f'built ({type(exc).__name__}: {first_line(exc, 160)})') from None


def load_checkpoint_model(config, checkpoint: str | os.PathLike, *, device: str | None = None):
    """Build the config's model and load ``checkpoint`` (weights-only, see engine.checkpoint)."""
    if not os.path.isfile(checkpoint):
        raise CheckpointNotFoundError(f"checkpoint '{checkpoint}' does not exist")
    source = config if isinstance(config, (str, os.PathLike)) else checkpoint
    cfg = read_config(config)
    require_model(cfg, source)
    cfg = load_model_config(cfg)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    carried = is_saved_config(config) or getattr(cfg, 'filename', None) is None
    model = _segmentor(cfg, str(checkpoint), device, carried_by=str(source) if carried else None)
    return attach_card(model, train_crop=training_crop(cfg), raster=raster_options(cfg),
                       source=dict(  # what a resumed prediction must find unchanged
                           config=file_identity(config) if isinstance(config, (str, os.PathLike))
                           else 'config', checkpoint=file_identity(checkpoint)))


def checkpoint_config(checkpoint: str | os.PathLike, *, trust: bool | None = None):
    """The config an mmengine checkpoint carries in ``meta['cfg']`` (read weights-only, the
    config as data: see :mod:`altair.config_data`).

    Raises:
        ModelSourceError: the checkpoint holds no config.
        UntrustedConfigError: a config that only executing it could read (``trust`` lifts it).
    """
    ckpt = safe_load(str(checkpoint), map_location='cpu')
    meta = (ckpt.get('meta') if isinstance(ckpt, dict) else None) or {}
    if not isinstance(meta, dict) or not meta.get('cfg'):
        raise ModelSourceError(f"checkpoint '{checkpoint}' does not hold its config (meta.cfg);"
                               ' give the config too: load_model(CONFIG, CHECKPOINT)')
    return config_from_data(meta['cfg'], source=str(checkpoint), trust=trust)


def load_safetensors_model(path: str | os.PathLike, *, device: str | None = None,
                           trust_config: bool | None = None):
    """A segmentor from an exported ``.safetensors`` file alone (config in its header, read
    as data: see :mod:`altair.config_data`)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework='pt') as f:
            header = parse_header((f.metadata() or {}).get(HEADER_KEY), path)
    except PortableModelError:
        raise
    except Exception as exc:  # safetensors' SafetensorError: truncated or not safetensors
        raise PortableModelError(f"'{path}' cannot be read as a .safetensors file "
                                 f'({first_line(exc, 160)})') from None
    cfg = header_config(header, path, trust=trust_config)
    require_model(cfg, path)
    cfg = load_model_config(cfg)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = _segmentor(cfg, None, device, carried_by=str(path))
    try:
        state = load_file(str(path), device=str(device))
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # truncated data, or tensors that are not this model's
        raise PortableModelError(f"'{path}': its weights do not load into the model its header "
                                 f'describes ({first_line(exc, 160)})') from None
    model.eval()
    return apply_header(model, header, dict(safetensors=file_identity(path)))


def load_model(source, checkpoint: str | os.PathLike | None = None, *,
               device: str | None = None, root: str | os.PathLike | None = None,
               trust_config: bool | None = None):
    """A model ready for ``alt.predict``: see the module docstring for ``source``.

    Args:
        source: a run reference, a ``.pth`` checkpoint, a config (with ``checkpoint``), a
            ``.safetensors`` or an ``.onnx`` file.
        checkpoint: the weights for a config ``source`` (or other weights for a run).
        device: ``'cpu'``, ``'cuda'``, ... (default: CUDA where visible); ONNX models run on
            the CPU.
        root: the run store (default ``$ALTAIR_HOME/runs`` or ``./runs``).
        trust_config: read a config that a model file carries by executing it, for a file
            you wrote yourself (default: ``ALTAIR_TRUST_CONFIG``); without it only literal
            configs are read (see :mod:`altair.config_data`).

    Raises:
        RunNotFoundError: no run of that id.
        NoCheckpointError: the run has no checkpoint yet.
        CheckpointNotFoundError: a checkpoint path that does not exist.
        ModelSourceError: a source that is none of the kinds above.
        PortableModelError: a .safetensors / .onnx file without an Altair header, or one
            this version cannot read.
    """
    suffix = Path(str(source)).suffix.lower() if isinstance(source, (str, os.PathLike)) else ''
    if suffix in PORTABLE_SUFFIXES and checkpoint is None:
        if not Path(source).is_file():
            raise CheckpointNotFoundError(f"model file '{source}' does not exist")
        if suffix == '.onnx':
            if device not in (None, 'cpu', 'auto'):
                raise ModelSourceError(f"'{source}': ONNX models run on the CPU here "
                                       f"(onnxruntime's CPU provider), not on '{device}'")
            return OnnxSegmentor(source)
        return load_safetensors_model(source, device=device, trust_config=trust_config)
    if suffix == '.pth' and checkpoint is None:
        if not Path(source).is_file():
            raise CheckpointNotFoundError(f"checkpoint '{source}' does not exist")
        return load_checkpoint_model(checkpoint_config(source, trust=trust_config), source,
                                     device=device)
    if is_run_reference(source) or checkpoint is not None:
        config, ckpt, _ = resolve_model_source(source, checkpoint, root=root)
        return load_checkpoint_model(config, ckpt, device=device)
    raise ModelSourceError(f"cannot load a model from {source!r}: give a run id, a .pth "
                           'checkpoint, CONFIG with CHECKPOINT, a .safetensors or an .onnx file')
