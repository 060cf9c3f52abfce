#!/usr/bin/env python
"""Rare classes of Blue Marble with and without the imbalance recipes: the demo model
(``configs/segformer.py``: SegFormer MiT-B0, 600 iterations, batch 8, 192x192) trained with
plain cross-entropy (``class_weight=None``, the baseline), with ``class_weight='auto'``
(median-frequency weights from the training pixel counts, the shipped config), and with the
Dice + CE, focal and Lovasz + CE configs beside it; same seed, precision and schedule.

Prints one JSON line per recipe: ``ratio`` = the rare classes' mean IoU (``--rare``, default
cropland and shrubland: 1-4 % of the training pixels each) over the baseline's, ``points`` the
difference, and the overall mIoU of both (val = the 17 held-out tiles, last iteration). At
the default ``--iters`` each line is also a row of ``benchmarks/results/imbalance.json``
(replacing the row of its recipe).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))
from results import write_row  # noqa: E402

SEGFORMER = 'configs/segformer/segformer_mit-b0{}_1xb8-600it_bluemarble-192x192.py'
RECIPES = {
    'ce': (SEGFORMER.format(''), {'model.decode_head.loss_decode.class_weight': None}),
    'ce_auto_weights': (SEGFORMER.format(''), {}),
    'dice_ce': (SEGFORMER.format('-dice-ce'), {}),
    'focal': (SEGFORMER.format('-focal'), {}),
    'lovasz_ce': (SEGFORMER.format('-lovasz-ce'), {}),
}


def rare_mean(metrics: dict, classes: list[str]) -> float:
    """Mean of ``IoU.<class>`` over ``classes`` (mmseg's per-class IoU, in points)."""
    return sum(float(metrics[f'IoU.{c}']) for c in classes) / len(classes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default=str(ROOT / 'data/bluemarble'))
    p.add_argument('--recipes', nargs='+', default=list(RECIPES), choices=RECIPES)
    p.add_argument('--rare', nargs='+', default=['cropland', 'shrubland'])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--iters', type=int, default=600)
    args = p.parse_args()

    import altair as alt
    from altair.datasets.bluemarble_build import ensure_bluemarble
    ensure_bluemarble(args.data_root)
    n = args.iters
    common = {'train_cfg.max_iters': n, 'train_cfg.val_interval': n,
              'default_hooks.checkpoint.interval': n, 'randomness.seed': args.seed,
              **{f'{s}_dataloader.dataset.data_root': args.data_root
                 for s in ('train', 'val', 'test')}}
    recipes = ['ce'] + [r for r in args.recipes if r != 'ce']
    baseline = None
    with tempfile.TemporaryDirectory() as home:
        for name in recipes:
            config, options = RECIPES[name]
            t0 = time.time()
            run = alt.train(ROOT / config, root=home, verbose=False,
                            cfg_options={**common, **options})
            metrics = run.metrics[-1]
            score = dict(rare=rare_mean(metrics, args.rare), mIoU=float(metrics['mIoU']))
            if baseline is None:
                baseline = score
            if name == 'ce' and 'ce' not in args.recipes:
                continue
            line = dict(
                name=f'imbalance_{name}', ratio=round(score['rare'] / max(baseline['rare'],
                                                                         1e-9), 3),
                points=round(score['rare'] - baseline['rare'], 2),
                baseline=round(baseline['rare'], 2), ours=round(score['rare'], 2),
                unit=f"mean IoU of {', '.join(args.rare)} (17 val tiles)",
                mIoU=round(score['mIoU'], 2), baseline_mIoU=round(baseline['mIoU'], 2),
                iou={k[4:]: round(float(v), 2) for k, v in metrics.items()
                     if k.startswith('IoU.')},
                rare_classes=args.rare, config=config, cfg_options=options, iters=n,
                seed=args.seed, train_minutes=round((time.time() - t0) / 60, 1))
            print(json.dumps(line), flush=True)
            if n == p.get_default('iters'):  # the documented length, not a shortened check
                write_row('imbalance', line, key='name')


if __name__ == '__main__':
    main()
