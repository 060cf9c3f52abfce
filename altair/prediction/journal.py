"""The progress journal of a streamed prediction: what ``--resume`` continues from.

It sits beside the temporary outputs as ``.<stem>.journal.json`` and holds the arguments
that shape the result (image, model, windows, outputs, ...), the rows already durable, the
window a resume starts from (``sliding_window_inference``'s checkpoint) and the polygon
writer's open regions; the engine's partial sums of the rows below go to a NumPy file it
names (``.<stem>.journal.<rows>.npz``), written before it. Both are rewritten atomically
after every band, each fsynced after the rows it names (:func:`save_journal`), and removed
when the outputs are complete.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from altair.errors import AltairError
from altair.fileio import atomic_write, write_text

VERSION = 2


class ResumeError(AltairError, ValueError):
    """``--resume`` without a journal, or with arguments that differ from the journal's."""


def journal_path(out_dir: str | os.PathLike, stem: str) -> Path:
    return Path(out_dir) / f'.{stem}.journal.json'


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
    band = path.with_name(state['band'])
    if not band.is_file():
        raise ResumeError(f"--resume: the journal's partial sums '{band}' are gone; run "
                          'without --resume to start again')
    with np.load(band) as saved:
        state['band'] = {name: saved[name] if name in saved.files else None
                         for name in ('acc', 'wsum', 'valid')}
    return state


def save_journal(path: Path, args: dict, *, rows_done: int, window: int, band: dict,
                 polygons: dict | None = None) -> None:
    """Record a checkpoint: ``band`` (the engine's partial sums, tensors or None) first, then
    the journal naming it; the previous checkpoint's sums are removed after.

    The caller makes the ``rows_done`` rows durable before (``PredictionWriter.sync``,
    ``PolygonWriter.sync``: written and fsynced). Here the sums, then the journal, are each
    fsynced before their rename and the folder after it, so that after a crash of the
    machine a journal on disk names only rows and sums that are on disk too."""
    name = f'{path.name[:-len(".json")]}.{rows_done}.npz'
    arrays = {k: v.cpu().numpy() for k, v in band.items() if v is not None}
    with atomic_write(path.with_name(name), fsync=True) as tmp:
        with open(tmp, 'wb') as f:  # closed before the commit fsyncs and renames it
            np.savez(f, **arrays)
    write_text(path, json.dumps(dict(version=VERSION, args=normalise(args), band=name,
                                     rows_done=rows_done, window=window, polygons=polygons)),
               fsync=True)
    for old in _bands(path):
        if old.name != name:
            old.unlink(missing_ok=True)


def remove_journal(path: Path) -> None:
    """Delete the journal at ``path`` and its partial sums."""
    path.unlink(missing_ok=True)
    for band in _bands(path):
        band.unlink(missing_ok=True)


def _bands(path: Path) -> list[Path]:
    return list(path.parent.glob(f'{path.name[:-len(".json")]}.*.npz'))
