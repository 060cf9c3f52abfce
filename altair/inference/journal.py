"""The progress journal of a streamed prediction: what ``--resume`` continues from.

It sits beside the temporary outputs as ``.<stem>.journal.json`` and holds the arguments
that shape the result (image, model, windows, outputs, ...), the rows already durable, the
window a resume starts from (``sliding_window_inference``'s checkpoint) and the polygon
writer's open regions. It is rewritten atomically after every band and removed when the
outputs are complete.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from altair.errors import AltairError
from altair.fileio import write_text

VERSION = 1


class ResumeError(AltairError, ValueError):
    """``--resume`` without a journal, or with arguments that differ from the journal's."""


def journal_path(out_dir: str | os.PathLike, stem: str) -> Path:
    return Path(out_dir) / f'.{stem}.journal.json'


def file_identity(path: str | os.PathLike) -> dict:
    """What tells a file apart from an edited one: its resolved path, size and mtime."""
    p = Path(path).resolve()
    st = p.stat()
    return dict(path=str(p), size=st.st_size, mtime_ns=st.st_mtime_ns)


def normalise(args: dict) -> dict:
    """``args`` as the journal stores it (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(args, default=str))


def load_journal(path: Path, args: dict) -> dict:
    """The journal at ``path`` if it was written with exactly ``args``.

    Raises:
        ResumeError: no journal, another version, or the first argument that differs.
    """
    if not path.is_file():
        raise ResumeError(f"--resume: no journal '{path}': no interrupted prediction of this "
                          'image writes here; run without --resume')
    state = json.loads(path.read_text())
    if state.get('version') != VERSION:
        raise ResumeError(f"--resume: journal '{path}' is of another Altair version; run "
                          'without --resume to start again')
    old, new = state['args'], normalise(args)
    for key in [*new, *(k for k in old if k not in new)]:  # in the order of ``args``
        if old.get(key) != new.get(key):
            raise ResumeError(f"--resume: '{key}' differs from the interrupted run "
                              f'({old.get(key)!r} there, {new.get(key)!r} now); give the '
                              'same arguments, or run without --resume to start again')
    return state


def save_journal(path: Path, args: dict, *, rows_done: int, window: int,
                 polygons: dict | None = None) -> None:
    write_text(path, json.dumps(dict(version=VERSION, args=normalise(args),
                                     rows_done=rows_done, window=window, polygons=polygons)))
