"""Start N local worker processes of an Altair command (torch's elastic launcher).

Workers run ``python -m <module> ARGS`` — a command, not a pickled function, so the caller's
``__main__`` is never re-imported in them — with the torchrun environment (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT) set; the first worker that fails stops the others.
"""
from __future__ import annotations

import os
import sys

from altair.errors import FailedWorkError


class WorkerFailedError(FailedWorkError):
    """A worker of a multi-process command failed (the message carries its rank and error)."""


def threads_per_worker(n: int) -> int:
    """The CPU cores each of ``n`` local workers gets (at least one)."""
    return max(1, (os.cpu_count() or 1) // n)


def launch_local(n: int, module: str, *args: str, run_id: str) -> None:
    """Run ``python -m module *args`` in ``n`` local processes and wait for them.

    Raises:
        WorkerFailedError: ``rank r of n failed (exit code c): <its error>``.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    launch = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=n, run_id=run_id,
                          rdzv_backend='c10d', rdzv_endpoint='localhost:0', max_restarts=0,
                          monitor_interval=0.5)
    try:
        elastic_launch(launch, sys.executable)('-m', module, *args)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        raise worker_failed(rank, n, failure.exitcode, failure.message) from None


def worker_failed(rank: int, n: int, code: int, message) -> WorkerFailedError:
    """The error for worker ``rank`` of ``n`` that exited with ``code``; ``message`` is its
    error, as text or as torch's error-file record (``{'message': ...}``)."""
    if isinstance(message, dict):
        message = message.get('message', message)
    return WorkerFailedError(f'rank {rank} of {n} failed (exit code {code}): {message}')
