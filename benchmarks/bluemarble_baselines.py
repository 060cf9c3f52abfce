#!/usr/bin/env python
"""The demo's val mIoU beside the classical methods a user would otherwise reach for, on the
same 17 held-out Blue Marble val tiles: the majority class of the training masks and the
nearest class mean of the RGB pixels (standardised per band), both fitted on the 86 training
tiles (``altair.evaluation.baselines``; mmseg's mIoU convention).

Prints one JSON line: ``ratio`` = the demo model's val mIoU (``work_dirs/demo/summary.json``,
``make demo``) over the best baseline's.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _pairs(root: Path, split: str):
    for image in sorted((root / 'img_dir' / split).glob('*.png')):
        rgb = cv2.imread(str(image))[:, :, ::-1]
        yield rgb, cv2.imread(str(root / 'ann_dir' / split / image.name), cv2.IMREAD_UNCHANGED)


def main() -> None:
    from altair.datasets.bluemarble_build import ensure_bluemarble
    from altair.datasets.bluemarble_classes import CLASSES
    from altair.evaluation.baselines import fit_class_means, majority_class, nearest_class_mean
    from altair.evaluation.scores import confusion, miou
    root = ensure_bluemarble(ROOT / 'data' / 'bluemarble')
    k = len(CLASSES)
    train, val = list(_pairs(root, 'train')), list(_pairs(root, 'val'))
    major = majority_class([lab for _, lab in train], num_classes=k)
    means, std = fit_class_means([img for img, _ in train], [lab for _, lab in train],
                                 num_classes=k, return_std=True)
    scores = dict(
        majority_class=miou(sum(confusion(np.full_like(lab, major), lab, num_classes=k)
                                for _, lab in val)),
        nearest_class_mean=miou(sum(confusion(nearest_class_mean(img, means, scale=std), lab,
                                              num_classes=k) for img, lab in val)))
    summary = ROOT / 'work_dirs' / 'demo' / 'summary.json'
    ours = json.loads(summary.read_text())['mIoU'] if summary.is_file() else None
    best = max(scores, key=scores.get)
    print(json.dumps(dict(
        name='demo_miou_vs_classical_baselines',
        ratio=round(ours / scores[best], 3) if ours is not None else None,
        baseline=round(scores[best], 2), ours=ours, unit='val mIoU (17 held-out tiles)',
        best_baseline=best, **{k: round(v, 2) for k, v in scores.items()},
        majority=CLASSES[major], demo=str(summary) if ours is not None else 'run make demo')))


if __name__ == '__main__':
    main()
