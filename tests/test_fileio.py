"""``altair.fileio``: atomic writes (the final name holds the old content or the new, never
half; no temporary survives), fsync where asked, and the writable-folder check."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from altair.errors import AltairError
from altair.fileio import (OutputDirError, atomic_write, commit, discard, ensure_writable_dir,
                           partial_path, write_json, write_text)


def test_partial_path_keeps_the_suffix_and_tells_tags_apart(tmp_path):
    out = tmp_path / 'scene.labels.tif'
    assert partial_path(out) == tmp_path / '.scene.labels.partial.tif'
    assert partial_path(str(out), 'partial-cog') == tmp_path / '.scene.labels.partial-cog.tif'
    assert partial_path(tmp_path / 'folder') == tmp_path / '.folder.partial'


def test_atomic_write_renames_on_success(tmp_path):
    out = tmp_path / 'a.txt'
    with atomic_write(out) as tmp:
        tmp.write_text('new')
        assert not out.exists()  # nothing under the final name while the block runs
    assert out.read_text() == 'new'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt']


def test_a_failing_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    out = tmp_path / 'a.txt'
    out.write_text('old')
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(out) as tmp:
            tmp.write_text('half')
            raise KeyboardInterrupt
    assert out.read_text() == 'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt']


def test_a_stale_temporary_from_a_killed_write_is_removed_first(tmp_path):
    out = tmp_path / 'a.json'
    partial_path(out).write_text('left by a killed process, much longer than the new text')
    with atomic_write(out) as tmp:
        assert not tmp.exists()
        with open(tmp, 'a') as f:  # appending would otherwise mix old and new
            f.write('{}')
    assert out.read_text() == '{}'


def test_a_folder_is_committed_whole_over_an_older_one(tmp_path):
    out = tmp_path / 'dataset'
    (out / 'old').mkdir(parents=True)
    with atomic_write(out, tag='partial-7') as tmp:
        (tmp / 'new').mkdir(parents=True)
    assert [p.name for p in out.iterdir()] == ['new']
    with pytest.raises(RuntimeError):
        with atomic_write(out) as tmp:
            (tmp / 'broken').mkdir(parents=True)
            raise RuntimeError
    assert [p.name for p in out.iterdir()] == ['new']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['dataset']


def test_fsync_flushes_the_file_and_then_its_folder(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(os.readlink(f'/proc/self/fd/{fd}'))
        return real(fd)
    monkeypatch.setattr(os, 'fsync', spy)
    out = tmp_path / 'last_checkpoint'
    write_text(out, 'epoch_3.pth', fsync=True)
    assert synced == [str(partial_path(out)), str(tmp_path)]
    synced.clear()
    write_text(out, 'epoch_4.pth')
    assert synced == []  # only where asked: outputs a rerun can rewrite are not synced


def test_write_json_round_trips_and_writes_paths_as_text(tmp_path):
    out = tmp_path / 'run.json'
    write_json(out, {'status': 'finished', 'dir': tmp_path, 'n': 3})
    assert json.loads(out.read_text()) == {'status': 'finished', 'dir': str(tmp_path), 'n': 3}
    assert out.read_text().endswith('}\n')


def test_commit_and_discard_for_files_kept_open_over_many_calls(tmp_path):
    final = tmp_path / 'labels.tif'
    tmp = partial_path(final)
    tmp.write_bytes(b'rows')
    assert commit(tmp, final) == final and final.read_bytes() == b'rows'
    assert not tmp.exists()
    discard(tmp)  # already gone: no error
    (tmp_path / 'scratch').mkdir()
    (tmp_path / 'scratch' / 'x').write_text('x')
    discard(tmp_path / 'scratch')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['labels.tif']


def test_ensure_writable_dir_creates_it_and_names_one_it_cannot(tmp_path):
    assert ensure_writable_dir(tmp_path / 'a' / 'b') == tmp_path / 'a' / 'b'
    assert (tmp_path / 'a' / 'b').is_dir() and not list((tmp_path / 'a' / 'b').iterdir())
    blocker = tmp_path / 'file'
    blocker.write_text('')  # a file where the folder should be (root ignores permissions)
    with pytest.raises(OutputDirError, match=r"work directory '.*file/runs' is not writable") \
            as err:
        ensure_writable_dir(blocker / 'runs', 'work directory')
    assert isinstance(err.value, AltairError) and isinstance(err.value, PermissionError)
    assert '\n' not in str(err.value)


def test_the_temporary_lives_beside_the_target(tmp_path):
    """Same folder, so the rename never crosses a file system (it would not be atomic)."""
    out = tmp_path / 'sub' / 'x.png'
    out.parent.mkdir()
    with atomic_write(out) as tmp:
        assert Path(tmp).parent == out.parent
        tmp.write_bytes(b'png')


# The child replaces the folder argv[1] by one holding NEW, pausing (marker file written,
# then asleep) before its rename / unlink / rmdir call number argv[2]; without such a call it
# finishes. Only those calls change which names exist, so pausing before each of them in turn
# stops the replacement at every point between two of its steps.
_REPLACING_CHILD = '''
import os, sys, time
from pathlib import Path
from altair.fileio import atomic_write
dest, pause_at, marker = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
calls = [0]
def pausing(real):
    def step(*args, **kwargs):
        if calls[0] == pause_at:
            marker.write_text(real.__name__)
            time.sleep(600)
        calls[0] += 1
        return real(*args, **kwargs)
    return step
with atomic_write(dest) as tmp:
    for rel, text in NEW.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text)
    for name in ('rename', 'replace', 'unlink', 'rmdir'):
        setattr(os, name, pausing(getattr(os, name)))
'''
_OLD = {'a.txt': 'old a', 'sub/b.txt': 'old b', 'sub/c.txt': 'old c'}
_NEW = {'a.txt': 'new a', 'd.txt': 'new d'}


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_text()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def test_sigkill_in_the_middle_of_a_folder_replacement_leaves_the_old_or_the_new_folder(
        tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from altair.fileio import recover
    root = Path(__file__).resolve().parents[1]
    code = f'NEW = {_NEW!r}\n' + _REPLACING_CHILD
    seen = []  # (paused before, what was under the final name, leftovers beside it)
    for pause_at in range(30):
        parent = tmp_path / str(pause_at)
        dest, marker = parent / 'dataset', tmp_path / f'paused-{pause_at}'
        for rel, text in _OLD.items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(text)
        proc = subprocess.Popen([sys.executable, '-c', code, str(dest), str(pause_at),
                                 str(marker)], cwd=root, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        finished = not marker.exists()
        if finished:
            assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
        else:
            proc.send_signal(signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL
        proc.stderr.close()
        under = _tree(dest) if dest.exists() else None
        beside = sorted(p.name for p in parent.iterdir() if p.name != 'dataset')
        seen.append((marker.read_text() if not finished else 'end', under, beside))
        # what the next call does first: the final name holds the old or the new folder
        assert recover(dest) == dest
        assert _tree(dest) in (_OLD, _NEW), seen[-1]
        assert [p.name for p in parent.iterdir() if p.name.startswith('.dataset.replaced-')
                ] == []
        # and the next replacement completes and leaves nothing beside it (a new folder
        # the kill left under the temporary name is removed first)
        with atomic_write(dest) as tmp:
            tmp.mkdir()
            (tmp / 'again.txt').write_text('again')
        assert _tree(dest) == {'again.txt': 'again'}
        assert sorted(p.name for p in parent.iterdir()) == ['dataset']
        if finished:
            break
    assert finished and seen[-1][1] == _NEW and seen[-1][2] == []
    # the kills hit every stage: before any rename; between the renames (nothing under the
    # final name, the old folder aside and the new one complete); the new one in place
    # with the old one (whole, then half removed) still aside
    assert seen[0][0] == 'rename' and seen[0][1] == _OLD
    gap = [s for s in seen if s[1] is None]
    assert len(gap) == 1 and gap[0][0] == 'replace'
    assert any(n.startswith('.dataset.replaced-') for n in gap[0][2])
    assert '.dataset.partial' in gap[0][2]
    cleaning = [s for s in seen if s[1] == _NEW and s[2]]
    assert len(cleaning) >= 4 and {s[0] for s in cleaning} >= {'unlink', 'rmdir'}
