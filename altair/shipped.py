"""The configs shipped with Altair: ``configs/`` of the checkout that an editable install
runs from, else ``altair/.mim/configs`` inside the installed package, where the wheel
carries them (as mmseg's ``.mim`` does; ``setup.py`` copies them in when it builds)."""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def configs_dir() -> Path:
    """The folder of the shipped configs (``_base_/``, the short names, one folder per
    algorithm)."""
    inside = PACKAGE / '.mim' / 'configs'
    return inside if inside.is_dir() else PACKAGE.parent / 'configs'


def shipped_config(path: str | Path) -> Path | None:
    """``configs/<rest>`` (relative, as the docs write it) as the shipped config ``<rest>``
    when it exists; None for any other path."""
    parts = Path(path).parts
    if Path(path).is_absolute() or len(parts) < 2 or parts[0] != 'configs':
        return None
    candidate = configs_dir().joinpath(*parts[1:])
    return candidate if candidate.is_file() else None
