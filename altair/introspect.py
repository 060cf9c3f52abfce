"""What is registered where: every registry in Altair's trees and the components a package
(Altair, a plugin) registered. For ``altair plugins`` and ``altair.testing``; the registries
themselves need only :mod:`altair.plugins` (loading)."""
from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

from altair.registry import ALL


@dataclass(frozen=True)
class Component:
    """A name in a registry and the object registered under it."""

    registry: object  # mmengine Registry
    name: str
    obj: object

    @property
    def label(self) -> str:
        """``<scope> <registry>``, e.g. ``altair model``."""
        return f'{self.registry.scope} {self.registry.name}'


def all_registries() -> list:
    """Every registry in the trees Altair's registries belong to (mmengine's roots and all
    their children: mmseg's, mmpretrain's once imported, Altair's)."""
    seen: dict[int, object] = {}
    stack = [reg.root for reg in ALL.values()]
    while stack:
        reg = stack.pop()
        if id(reg) not in seen:
            seen[id(reg)] = reg
            stack.extend(reg.children.values())
    return list(seen.values())


def components(package: str) -> list[Component]:
    """What the modules of ``package`` (and its submodules) registered, in any registry.

    An imported package is also matched by source folder: a plugin imported both as its
    checkout copy (``projects.<name>.<pkg>``) and installed (``<pkg>``) registers once.
    """
    mod = sys.modules.get(package)
    folder = Path(mod.__file__).resolve().parent if getattr(mod, '__file__', None) else None

    def ours(obj: object) -> bool:
        module = getattr(obj, '__module__', '') or ''
        if module == package or module.startswith(package + '.'):
            return True
        if folder is None:
            return False
        try:
            return folder in Path(inspect.getsourcefile(obj) or '/').resolve().parents
        except TypeError:
            return False

    out = [Component(reg, name, obj) for reg in all_registries()
           for name, obj in reg.module_dict.items() if ours(obj)]
    return sorted(out, key=lambda c: (c.label, c.name))
