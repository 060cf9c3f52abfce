"""Output folders: refuse one that cannot be written before any work starts."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from altair.errors import AltairError


class OutputDirError(AltairError, PermissionError):
    """An output or work directory that cannot be created or written."""


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
