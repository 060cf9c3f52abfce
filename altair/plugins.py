"""Third-party plugins: packages that declare the ``altair.plugins`` entry-point group.

A pip-installed package with, in its ``pyproject.toml``::

    [project.entry-points."altair.plugins"]
    unetplusplus = "altair_unetplusplus"

is imported the first time any Altair registry looks a name up (so when Altair builds anything
from a config), and its components resolve without ``custom_imports``. A plugin that fails to
import stops the build with a :class:`PluginImportError` naming it; ``ALTAIR_DISABLE_PLUGINS``
(comma-separated entry-point names, or ``all``) skips plugins. See ``projects/README.md``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType

from altair.errors import AltairError

GROUP = 'altair.plugins'
DISABLE_ENV = 'ALTAIR_DISABLE_PLUGINS'


class PluginImportError(AltairError, ImportError):
    """An installed plugin raised while being imported."""


@dataclass(frozen=True)
class Plugin:
    """One ``altair.plugins`` entry point."""

    name: str
    value: str  # ``module`` or ``module:attr``
    distribution: str | None
    version: str | None

    @property
    def module(self) -> str:
        return self.value.split(':')[0].strip()

    @property
    def origin(self) -> str:
        if self.distribution is None:
            return self.value
        return f'{self.value}, from {self.distribution} {self.version or ""}'.rstrip()


def installed() -> list[Plugin]:
    """Every installed plugin, by entry-point name (the first on ``sys.path`` wins a name)."""
    found: dict[str, Plugin] = {}
    for ep in metadata.entry_points(group=GROUP):
        dist = getattr(ep, 'dist', None)
        found.setdefault(ep.name, Plugin(
            name=ep.name, value=ep.value,
            distribution=dist.metadata['Name'] if dist is not None else None,
            version=dist.version if dist is not None else None))
    return [found[name] for name in sorted(found)]


def disabled() -> set[str]:
    """Entry-point names listed in ``ALTAIR_DISABLE_PLUGINS`` (``{'all'}`` for all)."""
    return {n.strip() for n in os.environ.get(DISABLE_ENV, '').split(',') if n.strip()}


def load_plugin(plugin: Plugin) -> ModuleType:
    """Import one plugin (its entry point's module).

    Raises:
        PluginImportError: naming the plugin, where it comes from and the exception, with the
            ways out (fix, uninstall, or skip it with ``ALTAIR_DISABLE_PLUGINS``).
    """
    from importlib import import_module
    try:
        return import_module(plugin.module)
    except Exception as exc:  # any failure in a third party's import is reported by name
        pip_name = plugin.distribution or '<its package>'
        raise PluginImportError(
            f"Altair plugin '{plugin.name}' ({plugin.origin}) failed to import: "
            f'{type(exc).__name__}: {exc}. Fix it, uninstall it (pip uninstall {pip_name}) or '
            f'skip it with {DISABLE_ENV}={plugin.name}') from exc


_loaded: set[str] = set()
_busy = False
_done = False  # every installed plugin imported: later calls return at once


def load_plugins() -> list[str]:
    """Import every installed plugin not disabled and not yet imported. The entry points are
    read once per process (registry lookups call this constantly); re-entrant calls (a
    plugin's import looking a name up) return at once.

    Returns:
        The entry-point names imported so far.

    Raises:
        PluginImportError: the first plugin that fails (every later call tries it again).
    """
    global _busy, _done
    if _busy or _done:
        return sorted(_loaded)
    off = disabled()
    _busy = True
    try:
        for plugin in installed():
            if plugin.name not in _loaded and plugin.name not in off and 'all' not in off:
                load_plugin(plugin)
                _loaded.add(plugin.name)
        _done = True
    finally:
        _busy = False
    return sorted(_loaded)
