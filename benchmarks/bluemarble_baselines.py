#!/usr/bin/env python
"""The demo's val mIoU beside the classical methods a user would otherwise reach for, from one
`altair demo` run: the demo scores the majority class and the nearest class mean of the RGB
pixels (standardised per band), both fitted on the 86 training tiles, on the same 17 held-out
val tiles as its model (``altair.api.demo.tile_baselines``) and writes all of them into its
``summary.json``.

Prints one JSON line (``ratio`` = the demo model's val mIoU over the best baseline's) and
writes ``benchmarks/results/demo_baselines.json``. Run ``make demo`` first.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
from results import write_results  # noqa: E402

SUMMARY = ROOT / 'work_dirs' / 'demo' / 'summary.json'


def main() -> int:
    if not SUMMARY.is_file():
        print(f"error: '{SUMMARY}' does not exist; run `make demo` first", file=sys.stderr)
        return 2
    summary = json.loads(SUMMARY.read_text())
    if 'baselines' not in summary:
        print(f"error: '{SUMMARY}' has no baselines (written before the demo scored them); "
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
