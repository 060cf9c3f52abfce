#!/usr/bin/env python
"""The model zoo's Blue Marble rows: one ``altair demo --config C`` run per config (its
schedule, seed 0, the config's precision), each scored on the 17 held-out val tiles beside the
classical baselines the demo fits on the same training tiles.

    python benchmarks/model_zoo.py                          # the three short configs
    python benchmarks/model_zoo.py --configs configs/pspnet.py

Then each run's best checkpoint is tested on the same tiles without TTA, with ``hflip`` (the
default) and with ``d4`` (``alt.test(run, tta_transforms=...)``). Each config becomes a row of
``benchmarks/results/model_zoo.json`` (replacing that config's row), stamped with its own
commit, so the configs can run in parts. Prints one JSON line per config.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
from results import write_row  # noqa: E402

CONFIGS = ['configs/pspnet.py', 'configs/deeplabv3plus.py', 'configs/segformer.py']


def zoo_row(summary: dict) -> dict:
    """A results row from a demo's ``summary.json``: what the model-zoo table shows."""
    baselines = summary['baselines']
    best = max(baselines, key=baselines.get)
    return dict(config=summary['config'], mIoU=summary['mIoU'], aAcc=summary['aAcc'],
                per_class_iou=summary['per_class_iou'], baselines=baselines,
                best_baseline=best, ratio=round(summary['mIoU'] / baselines[best], 3),
                globe_pixel_accuracy=summary['globe_pixel_accuracy'],
                train_minutes=round(summary['train_seconds'] / 60, 1),
                demo_minutes=round(summary['total_seconds'] / 60, 1), run=summary['run'])


TTA = {'none': None, 'hflip': ['hflip'], 'd4': ['d4']}


def tta_scores(run: str) -> dict[str, float]:
    """Val mIoU of ``run``'s best checkpoint without TTA and with each of ``TTA``."""
    import altair as alt
    return {name: round(float(alt.test(run, tta=views is not None, tta_transforms=views,
                                       verbose=False)['mIoU']), 2)
            for name, views in TTA.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--configs', nargs='+', default=CONFIGS)
    p.add_argument('--work-root', default='work_dirs/model_zoo',
                   help='each demo writes into WORK_ROOT/<config stem> (default: %(default)s)')
    args = p.parse_args()
    missing = [c for c in args.configs if not (ROOT / c).is_file()]
    if missing:
        p.error(f"config '{missing[0]}' does not exist")
    for config in args.configs:
        work = Path(args.work_root) / Path(config).stem
        cmd = [sys.executable, '-m', 'altair', 'demo', '--config', config,
               '--work-dir', str(work)]
        print(f"model zoo: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, cwd=ROOT)
        if proc.returncode != 0:
            print(f'error: the demo of {config} failed (exit {proc.returncode})',
                  file=sys.stderr)
            return 1
        row = zoo_row(json.loads((ROOT / work / 'summary.json').read_text()))
        row['tta_mIoU'] = tta_scores(row['run'])
        print(json.dumps(row), flush=True)
        write_row('model_zoo', row, key='config')
    return 0


if __name__ == '__main__':
    sys.exit(main())
