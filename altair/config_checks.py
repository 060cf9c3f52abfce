"""Checks of a loaded config: model types every registry resolves, top-level keys one edit
from a read one, the config section a constructor's error is about, a model present."""
from __future__ import annotations

import difflib
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from altair.config import READ_KEYS, UnknownConfigKeyError
from altair.errors import AltairError


class UnknownTypeError(AltairError, KeyError):
    """A ``type=...`` in a config that no registry in scope knows."""


def _registry_names(registry) -> list[str]:
    names: set[str] = set()
    reg = registry
    while reg is not None:
        reg.import_from_location()
        names.update(reg.module_dict)
        reg = reg.parent
    return sorted(names)


MODEL_PARTS = ('backbone', 'neck', 'decode_head', 'auxiliary_head', 'data_preprocessor')


def check_model_types(model_cfg: dict) -> None:
    """Check that the model's ``type`` and those of its main parts are registered.

    Raises:
        UnknownTypeError: naming the config key, the unknown type and the closest registered
            names (e.g. ``model.decode_head.type 'PSPHed' is not registered; did you mean
            PSPHead?``).
    """
    from altair.registry import MODELS

    names = _registry_names(MODELS)  # imports altair.models, mmseg.models, ... lazily
    for key, sub in _model_parts(model_cfg):
        typ = sub.get('type')
        if isinstance(typ, str) and typ not in names and not _resolves(MODELS, typ):
            close = difflib.get_close_matches(typ, names, n=5, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ''
            raise UnknownTypeError(f"{key}.type '{typ}' is not a registered model{hint}")


def _resolves(registry, typ: str) -> bool:
    """Whether a scoped/dotted name (``mmseg.PSPHead``, ``pkg.mod.Cls``) resolves."""
    if '.' not in typ:
        return False
    try:
        return registry.get(typ) is not None
    except (RuntimeError, KeyError, ImportError):
        return False


def _model_parts(model_cfg: dict) -> list[tuple[str, dict]]:
    out: list[tuple[str, Any]] = [('model', model_cfg)]
    for part in MODEL_PARTS:
        sub = model_cfg.get(part)
        subs = sub if isinstance(sub, (list, tuple)) else [sub]
        for i, s in enumerate(subs):
            if isinstance(s, dict):
                suffix = f'[{i}]' if isinstance(sub, (list, tuple)) else ''
                out.append((f'model.{part}{suffix}', s))
    return out


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def check_config_keys(cfg) -> None:
    """Refuse a top-level key that nothing reads but that is one or two edits away from one
    that is read (``optim_wraper``, ``param_schedulers``, ``modle``): mmengine would ignore
    it silently and train with the inherited value. Other unread keys are config variables
    (``crop_size``, ``train_pipeline``, ...) and pass.

    Raises:
        UnknownConfigKeyError: naming the key, the config file and the key it resembles.
    """
    for key in cfg.keys():
        if key in READ_KEYS or key.startswith('_') or len(key) < 4:
            continue
        near = sorted((edit_distance(key, known), known) for known in READ_KEYS)[0]
        if near[0] <= 2:
            where = f' in {cfg.filename}' if getattr(cfg, 'filename', None) else ''
            raise UnknownConfigKeyError(
                f"config key '{key}'{where} is not read by anything; did you mean "
                f"'{near[1]}'? (as written it would be ignored and the inherited or default "
                f"'{near[1]}' used)")


# what Python says when a constructor is given keys it does not take, or misses one
_KEY_MISMATCH = re.compile(r'unexpected keyword argument|missing \d+ required .*argument')


class ConfigBuildError(AltairError, TypeError):
    """A config section whose keys the class it names does not take."""


@contextmanager
def naming_the_section(key: str | Callable[[TypeError], str | None]):
    """Turn a constructor's key mismatch while building config section ``key`` (or the
    section ``key(error)`` names) into a :class:`ConfigBuildError` naming it; other errors,
    one already named by an inner section, and one ``key(error)`` finds no section for, pass
    unchanged."""
    try:
        yield
    except TypeError as exc:
        if isinstance(exc, ConfigBuildError) or not _KEY_MISMATCH.search(str(exc)):
            raise
        name = key(exc) if callable(key) else key
        if name is None:
            raise
        raise ConfigBuildError(
            f'config {name}: {exc}. A --cfg-options value changes one key and keeps the '
            f'others of {name}: remove or replace the keys its new type does not take'
        ) from None


def section_of(cfg, exc: BaseException) -> str | None:
    """The config key (``optim_wrapper``, ``train_dataloader.dataset``) whose ``type`` names
    the class a constructor error ``exc`` is about: the innermost class mmengine's builder
    names (``class `X` in ...``), else the one whose ``__init__()`` Python names; ``None``
    when no section has that type. For runners Altair does not subclass (mmengine's
    ``FlexibleRunner``), which build their sections unnamed."""
    text = str(exc)
    names = re.findall(r'class `(\w+)`', text) or re.findall(r'(\w+)\.__init__\(\)', text)
    if not names:
        return None
    wanted = names[-1]
    for key, sub in typed_sections(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg):
        if str(sub.get('type', '')).split('.')[-1] == wanted:
            return key
    return None


def typed_sections(tree, prefix: str = '') -> Iterator[tuple[str, dict]]:
    """(dotted key, dict) of every dict with a ``type`` in a config tree (the tree itself
    under ``prefix``, ``''`` by default), outermost first."""
    if isinstance(tree, dict):
        if 'type' in tree:
            yield prefix, tree
        for k, v in tree.items():
            yield from typed_sections(v, f'{prefix}.{k}' if prefix else str(k))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from typed_sections(v, f'{prefix}[{i}]')


class MissingModelError(AltairError, KeyError):
    """A config (a file, or one a checkpoint or model file carries) with no ``model``."""


def require_model(cfg, source) -> None:
    """Refuse a config that has no ``model`` section (a dict with a ``type``) before a model is
    built from it: mmseg's ``init_model`` would fail with an AttributeError on ``cfg.model``.

    Args:
        cfg: the config (``Config`` or dict).
        source: where it came from, for the message (a config path, a checkpoint, ...).

    Raises:
        MissingModelError: naming ``source`` and what it lacks.
    """
    model = cfg.get('model') if hasattr(cfg, 'get') else None
    if model is None:
        raise MissingModelError(
            f"config of '{source}' has no 'model' section, so no model can be built from it: "
            "give the config the model was trained with (model=dict(type='EncoderDecoder', "
            '...) or its _base_)')
    if not isinstance(model, dict) or not model.get('type'):
        raise MissingModelError(
            f"config of '{source}': 'model' must be a dict with a 'type' (the segmentor, e.g. "
            f"type='EncoderDecoder'), got {str(model)[:60]!r}")
