"""Results files of the benchmarks: ``benchmarks/results/<name>.json`` with the figures and
where they were measured (commit, CPU model and flags, torch, date, command)."""
from __future__ import annotations

import datetime
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'


def commit() -> str:
    """The checkout's short commit, ``+dirty`` where tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(['git', *args], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    head = git('rev-parse', '--short', 'HEAD') or 'unknown'
    return head + ('+dirty' if git('status', '--porcelain', '--untracked-files=no') else '')


def machine() -> dict:
    """CPU model, core count and whether bf16 is native (AVX512-BF16 or AMX), and torch."""
    import os

    import torch
    flags, model = set(), platform.processor()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name') and model in ('', 'x86_64'):
                model = line.split(':', 1)[1].strip()
            elif line.startswith('flags'):
                flags.update(line.split(':', 1)[1].split())
    except OSError:
        pass
    return dict(cpu=model, cores=os.cpu_count(), avx512_bf16='avx512_bf16' in flags,
                amx_bf16='amx_bf16' in flags, torch=torch.__version__.split('+')[0])


def stamp() -> dict:
    """Where and when: commit, machine, UTC date, the command line."""
    return dict(commit=commit(), **machine(),
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                command=' '.join([Path(sys.executable).name, *sys.argv]))


def write_results(name: str, figures: dict) -> Path:
    """Write ``benchmarks/results/<name>.json``: :func:`stamp` and ``figures``, atomically."""
    from altair.fileio import write_json
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f'{name}.json'
    write_json(path, dict(stamp(), **figures))
    return path
