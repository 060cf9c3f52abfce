"""One rank of ``alt.train(distributed=N)``: ``python -m altair.api.worker CONFIG THREADS``.

A command, not a pickled function, so the caller's ``__main__`` is never re-imported in the
workers (a script without an ``if __name__ == '__main__'`` guard still works). ``record``
writes this rank's exception to the file torch's elastic agent reads, so the caller's
``TrainingFailedError`` carries it.
"""
from __future__ import annotations

import sys

from torch.distributed.elastic.multiprocessing.errors import record

from altair.api.compile import CompileOptions, compile_config
from altair.api.runs import read_config
from altair.api.train import run_training
from altair.engine.device import close_distributed


@record
def main(argv: list[str] | None = None) -> None:
    import torch

    config, threads = (argv if argv is not None else sys.argv[1:])[:2]
    torch.set_num_threads(int(threads))
    run_training(compile_config(read_config(config),
                                CompileOptions(mode='worker', launcher='pytorch')))
    close_distributed()  # a group left to the interpreter's exit may abort it


if __name__ == '__main__':
    main()
