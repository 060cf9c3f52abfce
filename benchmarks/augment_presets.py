#!/usr/bin/env python
"""Augmentation presets: throughput against the training step, and what ``satellite`` does to
val mIoU on Blue Marble.

1. Images/s of each preset on 512x512 crops of the Blue Marble image (uint8 RGB + mask), one
   core (OpenCV single-threaded), beside the images/s the demo model trains at
   (``configs/pspnet.py``, batch 8, its default precision, all cores) measured in the same
   run. ratio = preset images/s / training images/s: above 1, one data worker keeps up.
2. ``--train-iters`` iterations of ``configs/pspnet.py`` with no augmentation at all (whole
   300x300 tiles) and with ``augmentations = dict(preset='satellite')``, same seed; val mIoU
   of each, whatever the sign.

Prints one JSON line per part and writes both to ``benchmarks/results/augment_presets.json``
(``quality`` null with ``--skip-training``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _data_opts(data_root: str) -> dict:
    opts = {}
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = data_root
    return opts


def preset_rates(data_root: str, calls: int) -> dict:
    import cv2
    import numpy as np

    from altair.datasets.transforms import PRESETS, AugPreset
    from altair.raster.write import read_geotiff
    cv2.setNumThreads(1)
    rgb, _ = read_geotiff(Path(data_root) / 'bluemarble_rgb.tif')
    labels, _ = read_geotiff(Path(data_root) / 'bluemarble_labels.tif')
    rng = np.random.default_rng(0)
    starts = [(int(rng.integers(0, rgb.shape[0] - 512)), int(rng.integers(0, rgb.shape[1] - 512)))
              for _ in range(calls)]
    crops = [(rgb[y:y + 512, x:x + 512].copy(), labels[y:y + 512, x:x + 512].copy())
             for y, x in starts]
    out = {}
    for name in PRESETS:
        step = AugPreset(name, crop_size=(512, 512), seed=0)
        step(dict(img=crops[0][0].copy(), gt_seg_map=crops[0][1].copy()))  # warm-up
        t0 = time.perf_counter()
        for img, mask in crops:
            step(dict(img=img.copy(), gt_seg_map=mask.copy()))
        out[name] = calls / (time.perf_counter() - t0)
    return out


def _train(data_root: str, iters: int, augment: str | None, home: str, timed: bool) -> dict:
    import altair as alt
    opts = dict(_data_opts(data_root), **{
        'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters,
        'default_hooks.checkpoint.interval': iters, 'default_hooks.logger.interval': 1,
        'randomness.seed': 0})
    if timed:  # throughput only: no validation
        opts.update({'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
                     'default_hooks.checkpoint.save_best': None})
    if augment == 'none':
        opts['train_dataloader.dataset.pipeline'] = [
            dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')]
    elif augment:
        opts['augmentations'] = dict(preset=augment)
    run = alt.train(ROOT / 'configs/pspnet.py', cfg_options=opts, root=home)
    [log] = run.work_dir.glob('*/vis_data/*_*.json')
    times = [json.loads(ln)['time'] for ln in log.read_text().splitlines()
             if '"loss"' in ln][5:]
    best = run.best_metrics
    return dict(images_per_s=8 / statistics.median(times) if times else None,
                mIoU=best['mIoU'] if best else None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default=str(ROOT / 'data/bluemarble'))
    p.add_argument('--calls', type=int, default=60, help='images per preset')
    p.add_argument('--train-iters', type=int, default=300)
    p.add_argument('--skip-training', action='store_true', help='part 1 only')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        with tempfile.TemporaryDirectory() as home:
            if args.worker == 'rates':
                res = preset_rates(args.data_root, args.calls)
            else:
                timed = args.worker == 'step'
                res = _train(args.data_root, 30 if timed else args.train_iters,
                             None if timed else args.worker, home, timed)
        print('RESULT ' + json.dumps(res))
        return
    from altair.datasets.bluemarble_build import ensure_bluemarble
    ensure_bluemarble(args.data_root)

    def worker(kind: str, threads: int | None = None) -> dict:
        env = dict(os.environ)
        if threads:
            env['OMP_NUM_THREADS'] = str(threads)
        proc = subprocess.run([sys.executable, __file__, '--worker', kind, '--data-root',
                               args.data_root, '--calls', str(args.calls), '--train-iters',
                               str(args.train_iters)], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
        if proc.returncode != 0 or not line:
            sys.exit(f'{kind} failed:\n{proc.stderr[-3000:]}')
        return json.loads(line[0][len('RESULT '):])

    rates = worker('rates', threads=1)
    step = worker('step')['images_per_s']
    slowest = min(rates, key=rates.get)
    speed = dict(
        name='augment_presets_vs_training_step', ratio=round(rates[slowest] / step, 2),
        baseline=round(step, 2), ours=round(rates[slowest], 2), slowest=slowest,
        unit='images/s (preset at 512x512 on 1 core / demo model training, batch 8)',
        presets_images_per_s={k: round(v, 1) for k, v in rates.items()},
        ratios={k: round(v / step, 2) for k, v in rates.items()})
    print(json.dumps(speed))
    quality = None
    if not args.skip_training:
        none, sat = worker('none'), worker('satellite')
        quality = dict(
            name='satellite_preset_vs_no_augmentation_val_mIoU', ratio=round(sat['mIoU'] /
                                                                             none['mIoU'], 3),
            baseline=none['mIoU'], ours=sat['mIoU'], unit='val mIoU',
            train_iters=args.train_iters, model='configs/pspnet.py, seed 0')
        print(json.dumps(quality))
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from results import write_results
    write_results('augment_presets', dict(speed=speed, quality=quality))


if __name__ == '__main__':
    main()
