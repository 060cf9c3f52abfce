#!/usr/bin/env python
"""Prediction precision on the demo model: labels under bf16 (and fp16 on CUDA) vs fp32.

The prediction default is ``precision='auto'`` only if bf16 labels agree with fp32 labels on
at least 99.5 % of the pixels of the demo model (issue 17). Model: the demo run
(``make demo``: ``work_dirs/demo``, its saved config and last checkpoint) or ``--config`` +
``--checkpoint``. Images: the demo's validation tiles (longitude bands no training tile
touches), each predicted whole with ``alt.predict`` at each precision, the same model object,
one warm-up image first. On a CPU without native bf16 (no AVX512-BF16 / AMX), bf16 is
emulated: the labels are those bf16 rounding gives, the time is not representative (said in
the JSON).

Prints one JSON line: per precision its seconds, fp32's (the baseline, the same images in the
same run), the time ratio and the share of labels equal to fp32's; run on all the val tiles
(no ``--images``), it is also written to ``benchmarks/results/precision_agreement.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.995


def _demo_model(work_dir: Path) -> tuple[Path, Path]:
    """The saved config and last checkpoint of the demo run in ``work_dir``."""
    summary = work_dir / 'summary.json'
    if not summary.is_file():
        sys.exit(f'error: {summary} does not exist (run `make demo`, or pass --config and '
                 '--checkpoint)')
    from altair.api.runs import load_run
    run = load_run(json.loads(summary.read_text())['run'])
    return run.config_path, run.last_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-dir', default='work_dirs/demo', type=Path,
                   help='the demo run (default: work_dirs/demo)')
    p.add_argument('--config', type=Path)
    p.add_argument('--checkpoint', type=Path)
    p.add_argument('--data-root', default='data/bluemarble', type=Path)
    p.add_argument('--images', type=int, default=None, help='use the first N val tiles')
    args = p.parse_args()

    import cv2
    import torch

    import altair as alt
    from altair.api.predict import load_model
    from altair.inference.precision import cpu_has_native_bf16
    config, checkpoint = ((args.config, args.checkpoint) if args.config
                          else _demo_model(ROOT / args.work_dir))
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = load_model(config, checkpoint, device=device)
    tiles = sorted((args.data_root / 'img_dir' / 'val').glob('*.png'))[:args.images]
    if not tiles:
        sys.exit(f'error: {args.data_root}/img_dir/val: no tiles (run `make demo` first)')
    images = [cv2.imread(str(t))[:, :, ::-1].copy() for t in tiles]  # RGB, as alt.predict takes
    precisions = ['fp32', 'bf16'] + (['fp16'] if device == 'cuda' else [])
    native = torch.cuda.is_bf16_supported() if device == 'cuda' else cpu_has_native_bf16()

    def run(precision: str) -> tuple[float, list[np.ndarray]]:
        options = dict(sliding_window=False, precision=precision, save=(), progress=False,
                       window_batch=1)
        alt.predict(model, images[0], **options)  # warm-up
        t0 = time.perf_counter()
        labels = [alt.predict(model, img, **options)[0].labels for img in images]
        return time.perf_counter() - t0, labels

    results = {p: run(p) for p in precisions}
    base_s, base = results['fp32']
    rows = []
    for precision in precisions[1:]:
        seconds, labels = results[precision]
        same = sum(int((a == b).sum()) for a, b in zip(labels, base))
        total = sum(a.size for a in base)
        rows.append(dict(precision=precision, seconds=round(seconds, 2),
                         baseline='fp32', baseline_seconds=round(base_s, 2),
                         ratio=round(seconds / base_s, 3),
                         label_agreement=round(same / total, 5)))
    bf16 = next(r for r in rows if r['precision'] == 'bf16')
    line = dict(
        benchmark='precision_agreement', model=str(config), checkpoint=str(checkpoint),
        device=device, native_bf16=bool(native),
        timing='representative' if native or device == 'cuda' else
        'bf16 emulated on this CPU: its seconds are not what a bf16 CPU gives',
        images=len(images), pixels=sum(a.size for a in base), rows=rows,
        goal=f'bf16 label agreement >= {GOAL}', bf16_meets_goal=bf16['label_agreement'] >= GOAL)
    print(json.dumps(line))
    if args.images is None:  # the whole val split: what the docs quote
        sys.path.insert(0, str(ROOT / 'benchmarks'))
        from results import write_results
        write_results('precision_agreement', line)


if __name__ == '__main__':
    main()
