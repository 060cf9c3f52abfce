"""Where Altair keeps files and how it writes them: its cache folder, output folders checked
before work starts, and outputs written atomically (a temporary sibling, then a rename;
nothing half-written is ever left under the final name, and the temporary is removed when
the write fails).

Every file Altair writes for a user goes through :func:`atomic_write` (one block) or
:func:`commit` / :func:`discard` (a file kept open over many calls, as the streamed raster
and polygon writers do)."""
from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from altair.errors import AltairError


class OutputDirError(AltairError, PermissionError):
    """An output or work directory that cannot be created or written."""


def cache_dir() -> Path:
    """Altair's cache: ``$ALTAIR_CACHE``, else ``~/.cache/altair`` (sample data, mmcv wheels,
    the batch probe's answers)."""
    return Path(os.environ.get('ALTAIR_CACHE') or Path.home() / '.cache' / 'altair')


def partial_path(path: str | os.PathLike, tag: str = 'partial') -> Path:
    """The temporary name a file is written under before its rename: ``.<stem>.<tag><suffix>``
    beside it (suffix kept: GDAL and OpenCV pick the format from it; ``tag`` tells apart two
    temporaries of one file that exist at once)."""
    path = Path(path)
    return path.with_name(f'.{path.stem}.{tag}{path.suffix}')


def fsync_path(path: str | os.PathLike) -> None:
    """Flush ``path`` (a file, or a folder's entries) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush the folder ``path``'s entries (the renames and removals in it) to the disk;
    a no-op where the file system cannot sync a folder."""
    with contextlib.suppress(OSError):
        fsync_path(path)


ASIDE_TAG = 'replaced'


def aside_path(path: str | os.PathLike) -> Path:
    """A unique sibling name, ``.<name>.replaced-<pid>-<random>``, that an old folder is
    moved to while a new one takes its place (:func:`commit`)."""
    path = Path(path)
    return path.with_name(f'.{path.name}.{ASIDE_TAG}-{os.getpid()}-{secrets.token_hex(4)}')


def recover(path: str | os.PathLike) -> Path | None:
    """Finish a folder replacement that a crash interrupted (see :func:`commit`).

    If ``path`` is missing while a folder set aside from it is there (the crash came
    between the two renames), the folder set aside goes back to ``path`` (the newest, if
    several: the replacement never happened); every other one left (the crash came after
    the new folder was in place) is removed.

    Returns:
        ``path`` if it exists afterwards, else None.
    """
    path = Path(path)
    pattern = f'.{glob.escape(path.name)}.{ASIDE_TAG}-*'
    asides = [p for p in path.parent.glob(pattern) if p.is_dir() and not p.is_symlink()]
    if asides and not os.path.lexists(path):
        newest = max(asides, key=lambda p: p.stat().st_ctime_ns)  # a rename sets ctime
        with contextlib.suppress(OSError):  # another process put a folder there meanwhile
            os.rename(newest, path)
            asides.remove(newest)
    for old in asides:
        shutil.rmtree(old, ignore_errors=True)
    return path if os.path.lexists(path) else None


def _replace_dir(tmp: Path, path: Path) -> None:
    """Put the folder ``tmp`` in place of the folder ``path`` in three steps, so that a
    crash at any point leaves the old folder or the new one: the old one is renamed aside,
    the new one renamed into place, and only then the old one removed. (A crash between
    the two renames leaves the old one under its aside name; :func:`recover`, which the
    next :func:`commit` to ``path`` calls, puts it back.)"""
    recover(path)
    aside = None
    if path.is_dir() and not path.is_symlink():
        aside = aside_path(path)
        os.rename(path, aside)
    os.replace(tmp, path)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def commit(tmp: str | os.PathLike, path: str | os.PathLike, *, fsync: bool = False) -> Path:
    """Rename the finished temporary ``tmp`` onto ``path`` (a folder replaces the folder
    there so that a crash at any moment leaves the old folder or the new one, at worst
    set aside for the next commit to put back: :func:`_replace_dir`). With
    ``fsync`` the data and then the rename are flushed to the disk first, for files a crash
    must not lose (checkpoints, run records)."""
    tmp, path = Path(tmp), Path(path)
    if fsync and tmp.is_file():
        fsync_path(tmp)
    if tmp.is_dir():
        _replace_dir(tmp, path)
    else:
        os.replace(tmp, path)
    if fsync:
        fsync_dir(path.parent)
    return path


def discard(tmp: str | os.PathLike) -> None:
    """Remove a temporary (file or folder) if it is there."""
    tmp = Path(tmp)
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, tag: str = 'partial',
                 fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (see :func:`partial_path`); rename it onto
    ``path`` when the block ends (:func:`commit`); remove it when the block or the rename
    raises. A temporary of that name left by a killed earlier write is removed first."""
    path = Path(path)
    tmp = partial_path(path, tag)
    discard(tmp)
    try:
        yield tmp
        commit(tmp, path, fsync=fsync)
    finally:
        discard(tmp)


def write_text(path: str | os.PathLike, text: str, *, fsync: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, fsync=fsync) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, *, fsync: bool = False) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (values JSON cannot hold are
    written as their ``str``)."""
    return write_text(path, json.dumps(data, indent=2, default=str) + '\n', fsync=fsync)


def ensure_writable_dir(path: str | os.PathLike, what: str = 'output directory') -> Path:
    """Create ``path`` if needed and check a file can be written in it (a probe file is
    created and removed).

    Raises:
        OutputDirError: naming the folder, the reason and what to do.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix='.altair-write-test-')
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputDirError(
            f"{what} '{folder}' is not writable ({exc.strerror or exc}); choose another one "
            'or fix its permissions') from exc
    return folder


def file_identity(path: str | os.PathLike) -> dict:
    """What tells a file apart from an edited one: its resolved path, size and mtime."""
    p = Path(path).resolve()
    st = p.stat()
    return dict(path=str(p), size=st.st_size, mtime_ns=st.st_mtime_ns)
