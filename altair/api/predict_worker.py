"""One rank of ``alt.predict(processes=N)``: ``python -m altair.api.predict_worker SPEC THREADS``.

SPEC is the JSON file ``altair.prediction.dist.spawn`` wrote (model, images, the options'
record); the calling process is rank 0 and returns every rank's predictions itself.
``record`` hands this rank's exception to torch's elastic agent, so the caller's error
carries it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import record

from altair.api.predict import predict_with
from altair.engine.device import close_distributed
from altair.prediction.options import PredictOptions


@record
def main(argv: list[str] | None = None) -> None:
    import torch

    spec_path, threads = (argv if argv is not None else sys.argv[1:])[:2]
    torch.set_num_threads(int(threads))
    spec = json.loads(Path(spec_path).read_text())
    model = tuple(spec['model']) if isinstance(spec['model'], list) else spec['model']
    predict_with(model, spec['images'], PredictOptions.from_record(spec['options']),
                 root=spec['root'])
    close_distributed()  # a group left to the interpreter's exit may abort it


if __name__ == '__main__':
    main()
