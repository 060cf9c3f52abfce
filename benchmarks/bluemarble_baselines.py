#!/usr/bin/env python
"""The demo's val mIoU beside the classical methods a user would otherwise reach for, from one
`altair demo` run: the demo scores the majority class and the nearest class mean of the RGB
pixels (standardised per band), both fitted on the 86 training tiles, on the same 17 held-out
val tiles as its model (``altair.api.demo.tile_baselines``) and writes all of them into its
``summary.json``.

Prints one JSON line (``ratio`` = the demo model's val mIoU over the best baseline's) and
writes ``benchmarks/results/demo_baselines.json``. Run ``make demo`` first, or give another
demo's summary (``--summary work_dirs/model_zoo/segformer/summary.json``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
from results import write_results  # noqa: E402

SUMMARY = ROOT / 'work_dirs' / 'demo' / 'summary.json'


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--summary', type=Path, default=SUMMARY,
                   help="a demo's summary.json (default: %(default)s)")
    path = p.parse_args().summary
    if not path.is_file():
        print(f"error: '{path}' does not exist; run `make demo` first", file=sys.stderr)
        return 2
    summary = json.loads(path.read_text())
    if 'baselines' not in summary:
        print(f"error: '{path}' has no baselines (written before the demo scored them); "
              'run `make demo` again', file=sys.stderr)
        return 2
    baselines = summary['baselines']
    best = max(baselines, key=baselines.get)
    line = dict(name='demo_miou_vs_classical_baselines',
                ratio=summary['ratio_to_best_baseline'], baseline=baselines[best],
                ours=round(summary['mIoU'], 2), unit='val mIoU (17 held-out tiles)',
                best_baseline=best, baselines=baselines, config=summary['config'],
                run=summary['run'], train_minutes=round(summary['train_seconds'] / 60, 1),
                demo_minutes=round(summary['total_seconds'] / 60, 1))
    print(json.dumps(line))
    write_results('demo_baselines', line)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
