"""A config that came inside a file is data: reading one never runs code.

Checkpoints (``meta['cfg']``), safetensors headers and ONNX headers carry the resolved config
of the model they hold. mmengine writes it as ``Config.pretty_text``: Python source made only
of assignments of literals (``name = dict(type='X', size=(3, 3))``). mmengine reads it back by
executing it, so a file from someone else could run any code when opened. Here the text is
parsed with :mod:`ast` and only that literal subset is accepted:

- statements: ``name = <value>`` (a string expression as docstring is ignored);
- values: numbers, strings, ``True``/``False``/``None``, lists, tuples, sets, ``{...}`` dicts
  with literal keys, ``dict(key=<value>, ...)`` and ``dict({...})``, a sign before a number,
  and a name assigned earlier in the same text (a copy of its value).

Anything else (an import, a call other than ``dict``, an attribute, an operator, a
``{{ ... }}`` substitution) is refused with one line naming the file, the line and the
construct. ``custom_imports`` is honoured only for modules Altair already trusts: Altair's
own, its installed plugins and the checkout's ``projects/`` packages.

A user who wrote the file can lift the refusal with ``--trust-config`` (the CLI) or
``trust_config=True`` (the API); both set ``ALTAIR_TRUST_CONFIG=1`` for worker processes.
Then mmengine reads the text as it always has, executing it.
"""
from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path
from typing import Any

from mmengine.config import Config

from altair.errors import AltairError, first_line
from altair.plugins import installed

TRUST_ENV = 'ALTAIR_TRUST_CONFIG'
_CALLS = {'dict': dict}
_SIGNS = {ast.USub: lambda v: -v, ast.UAdd: lambda v: +v}


class ConfigDataError(AltairError, ValueError):
    """A config inside a file that cannot be read as a config."""


class UntrustedConfigError(ConfigDataError):
    """A config inside a file that would need code to be executed to read it."""


def trusted_by_user(trust: bool | None = None) -> bool:
    """``trust`` if given, else whether ``ALTAIR_TRUST_CONFIG`` is set to 1/true/yes."""
    if trust is not None:
        return bool(trust)
    return os.environ.get(TRUST_ENV, '').strip().lower() in ('1', 'true', 'yes')


def literal_config_dict(text: str, *, source: str) -> dict:
    """The top-level names of ``text`` and their values, read without executing anything.

    Args:
        text: Python source made of assignments of literals (mmengine's ``pretty_text``).
        source: the file it came from, for the error message.

    Raises:
        UntrustedConfigError: a syntax error or any construct outside the literal subset.
    """
    try:
        tree = ast.parse(text, mode='exec')
    except (SyntaxError, ValueError) as exc:  # ValueError: NUL bytes in the text
        line = getattr(exc, 'lineno', None)
        raise UntrustedConfigError(
            f"'{source}': the config it carries is not valid Python source"
            f"{f' (line {line})' if line else ''}: {first_line(exc, 120)}") from None
    names: dict[str, Any] = {}
    for stmt in tree.body:
        if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)):
            continue  # a docstring
        if not (isinstance(stmt, ast.Assign) and stmt.targets
                and all(isinstance(t, ast.Name) for t in stmt.targets)):
            _refuse(source, stmt, 'a statement other than `name = value`')
        value = _literal(stmt.value, names, source)
        for target in stmt.targets:
            names[target.id] = value
    return names


def _literal(node: ast.AST, names: dict, source: str) -> Any:
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            _refuse(source, node, '`...`')
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_literal(e, names, source) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            _refuse(source, node, '`**` unpacking')
        return {_literal(k, names, source): _literal(v, names, source)
                for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call):
        # mmengine writes dict(key=...), and dict({...}) for keys that are not identifiers
        if not (isinstance(node.func, ast.Name) and node.func.id in _CALLS) \
                or len(node.args) > 1:
            _refuse(source, node, f'a call of {_name(node.func)}')
        if any(k.arg is None for k in node.keywords):
            _refuse(source, node, '`**` unpacking')
        value = _literal(node.args[0], names, source) if node.args else {}
        if not isinstance(value, dict):
            _refuse(source, node, f'dict() of a {type(value).__name__}')
        return _CALLS[node.func.id](value, **{k.arg: _literal(k.value, names, source)
                                              for k in node.keywords})
    if (isinstance(node, ast.UnaryOp) and type(node.op) in _SIGNS
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float, complex)):
        return _SIGNS[type(node.op)](node.operand.value)
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        if node.id not in names:
            _refuse(source, node, f"the name '{node.id}', not assigned before")
        return _copy(names[node.id])
    _refuse(source, node, f'{_construct(node)}')


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return type(value)(_copy(v) for v in value)
    return value


def _name(node: ast.AST) -> str:
    try:
        return f'`{ast.unparse(node)[:40]}`'
    except Exception:  # pragma: no cover - unparse handles every parsed node
        return type(node).__name__


def _construct(node: ast.AST) -> str:
    kind = {ast.Attribute: 'an attribute', ast.BinOp: 'an operator', ast.Lambda: 'a lambda',
            ast.Subscript: 'a subscript', ast.JoinedStr: 'an f-string'}.get(type(node))
    return f'{kind or type(node).__name__} ({_name(node)})'


def _refuse(source: str, node: ast.AST, what: str):
    raise UntrustedConfigError(
        f"'{source}': the config it carries has {what} on line {getattr(node, 'lineno', '?')}; "
        'only literal assignments are read from a model file or a saved run. If you wrote this '
        f'file, pass --trust-config (or set {TRUST_ENV}=1) to execute it')


def trusted_module(name: str) -> bool:
    """Whether ``custom_imports`` may import ``name`` from a config inside a file: Altair's
    own modules, an installed Altair plugin's, or a package under the checkout's
    ``projects/``."""
    if not isinstance(name, str) or not all(p.isidentifier() for p in name.split('.')):
        return False
    top = name.split('.')[0]
    if top == 'altair':
        return True
    if any(name == p.module or name.startswith(p.module + '.') for p in installed()):
        return True
    if top == 'projects':
        projects = (Path(__file__).resolve().parents[1] / 'projects').resolve()
        spec = importlib.util.find_spec('projects')
        locations = list(getattr(spec, 'submodule_search_locations', None) or []) if spec else []
        return bool(locations) and all(Path(p).resolve() == projects for p in locations)
    return False


def installed_module(name: str) -> bool:
    """Whether ``name`` is a module this environment has (found without importing it; a
    dotted name's parent packages are imported to look inside them)."""
    if not isinstance(name, str) or not all(p.isidentifier() for p in name.split('.')):
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def config_from_data(data: str | dict, *, source: str, trust: bool | None = None,
                     installed_modules: bool = False) -> Config:
    """The ``Config`` a file carries: a dict (JSON header) or literal Python text.

    Args:
        data: the config as stored: a dict, or the text of ``Config.pretty_text``.
        source: the file it came from (named in errors).
        trust: execute text outside the literal subset, as mmengine does (default: the
            ``ALTAIR_TRUST_CONFIG`` environment variable).
        installed_modules: ``custom_imports`` may name any module this environment has (a
            run's saved config: the modules its training imported), not only those of
            :func:`trusted_module` (a model file from anywhere).

    Raises:
        UntrustedConfigError: the text needs executing and is not trusted, or it asks to
            import a module Altair does not trust.
        ConfigDataError: not a config, or a module it imports fails to import.
    """
    if isinstance(data, dict):
        cfg_dict = data
    elif isinstance(data, str):
        try:
            cfg_dict = literal_config_dict(data, source=source)
        except UntrustedConfigError:
            if not trusted_by_user(trust):
                raise
            return Config.fromstring(data, '.py')
    else:
        raise ConfigDataError(f"'{source}': the config it carries is a "
                              f'{type(data).__name__}, expected a dict or config text')
    imports = (cfg_dict.get('custom_imports') or {})
    modules = imports.get('imports', []) if isinstance(imports, dict) else imports
    modules = [modules] if isinstance(modules, str) else list(modules or [])
    allowed = installed_module if installed_modules else trusted_module
    refused = [m for m in modules if not allowed(m)]
    if refused and not trusted_by_user(trust):
        why = ('this environment has no such module' if installed_modules else
               "it is neither Altair's, an installed Altair plugin's nor under projects/")
        raise UntrustedConfigError(
            f"'{source}': the config it carries imports {str(refused[0])[:80]!r} and {why}; "
            f'if you wrote this file, pass --trust-config (or set {TRUST_ENV}=1)')
    try:
        cfg = Config(cfg_dict)
    except (KeyError, TypeError, ValueError) as exc:  # e.g. a reserved key ('filename')
        raise ConfigDataError(f"'{source}': the config it carries cannot be read as a config: "
                              f'{first_line(exc, 120)}') from None
    if modules:
        from mmengine.utils import import_modules_from_strings
        try:
            import_modules_from_strings(imports=modules, allow_failed_imports=bool(
                isinstance(imports, dict) and imports.get('allow_failed_imports')))
        except ImportError as exc:
            raise ConfigDataError(f"'{source}': the config it carries imports a module that "
                                  f'fails to import ({first_line(exc, 120)})') from None
    return cfg
