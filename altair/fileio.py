"""Where Altair keeps files: its cache folder, and outputs written atomically (a temporary
sibling, then a rename; nothing half-written)."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


def cache_dir() -> Path:
    """Altair's cache: ``$ALTAIR_CACHE``, else ``~/.cache/altair`` (sample data, mmcv wheels,
    the batch probe's answers)."""
    return Path(os.environ.get('ALTAIR_CACHE') or Path.home() / '.cache' / 'altair')


def partial_path(path: Path) -> Path:
    """The temporary name a file is written under before its rename (suffix kept: GDAL and
    OpenCV pick the format from it)."""
    return path.with_name(f'.{path.stem}.partial{path.suffix}')


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block ends,
    remove it when the block raises."""
    path = Path(path)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path) as tmp:
        tmp.write_text(text)
    return Path(path)
