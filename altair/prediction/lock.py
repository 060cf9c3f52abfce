"""One writer per output: a lock file held while a prediction writes its outputs.

``altair predict`` holds ``.<stem>.lock`` in the output folder while it writes ``<stem>_*``
(their temporaries and journal included), so a second prediction into the same outputs is
refused in one line naming the holder rather than both writing, and one removing, the same
temporary files. The lock is ``fcntl.flock`` on that file: the kernel releases it when its
process ends, however it ends, so a lock file a killed process left behind is simply taken
over. The file holds the holder's pid, host and start time, for the message.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from pathlib import Path

from altair.errors import AltairError

logger = logging.getLogger('altair')
# file systems without locks (some FUSE and old NFS mounts) answer with these
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class OutputLockedError(AltairError, FileExistsError):
    """Outputs that another live process is writing."""


def lock_path(out_dir: str | os.PathLike, stem: str) -> Path:
    """The lock of the outputs ``<stem>_*`` in ``out_dir``."""
    return Path(out_dir) / f'.{stem}.lock'


class OutputLock:
    """Hold ``path`` (see :func:`lock_path`) exclusively: ``with OutputLock(path, what):``.

    Args:
        path: the lock file (created, and removed on release).
        what: the outputs it guards, for the message (e.g. ``'scene_*'``).

    Raises:
        OutputLockedError: on entering, when a live process holds the lock (its pid, host
            and start time named).
    """

    def __init__(self, path: str | os.PathLike, what: str) -> None:
        self.path, self.what = Path(path), what
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl
        for _ in range(20):  # a holder that releases between our open and flock: retry
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise OutputLockedError(self._held_message(holder)) from None
            except OSError as exc:
                os.close(fd)
                if exc.errno not in _NO_LOCKS:
                    raise
                self._unlocked(exc)
                return
            if not self._still_there(fd):  # the holder released and removed it meanwhile
                os.close(fd)
                continue
            stale = _read(fd)
            if stale:
                logger.info(f"taking over the lock '{self.path}' of pid {stale.get('pid')} on "
                            f"{stale.get('host')}, which ended without releasing it")
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(dict(
                pid=os.getpid(), host=socket.gethostname(),
                started=time.strftime('%Y-%m-%d %H:%M:%S'))).encode())
            self._fd = fd
            return
        raise OutputLockedError(f"lock '{self.path}' keeps being replaced by other processes; "
                                f'another prediction is writing {self.what}: give another '
                                'output folder')

    def _still_there(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _held_message(self, holder: dict) -> str:
        if holder.get('pid') is not None:
            who = (f"pid {holder['pid']} on {holder.get('host', 'an unknown host')}, since "
                   f"{holder.get('started', 'an unknown time')}")
        else:
            who = 'a process that is just starting'
        return (f"outputs {self.what} in '{self.path.parent}' are being written by another "
                f"prediction ({who}; lock '{self.path.name}'): wait for it to end, or give "
                'another output folder')

    def _unlocked(self, exc: OSError) -> None:
        logger.warning(f"cannot lock '{self.path}' ({exc.strerror}): this file system has no "
                       'locks, so nothing stops two predictions writing the same outputs')

    def release(self) -> None:
        if self._fd is None:
            return
        # removed while still held: a process that opened it meanwhile sees another file
        # at the path once it gets the lock, and starts again (see :meth:`_still_there`)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> 'OutputLock':
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read(fd: int) -> dict:
    """The holder recorded in the lock file open as ``fd`` ({} when empty or unreadable)."""
    try:
        text = os.pread(fd, 4096, 0).decode(errors='replace')
        info = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
