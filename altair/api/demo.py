"""`make demo`: from the installed packages to a trained land-cover model of the whole globe.

1. build ``data/bluemarble`` if missing;
2. train the config (``configs/segformer.py`` by default) from scratch;
3. evaluate on the geographically disjoint val split (per-class IoU and mIoU), beside the
   classical baselines fitted on the same training tiles (majority class, nearest class mean);
4. predict the full 5400x2700 image window by window and write a label GeoTIFF and a colour
   overlay PNG.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from altair.api.load import load_model
from altair.api.test import test
from altair.api.train import train
from altair.datasets.bluemarble_build import ensure_bluemarble
from altair.datasets.bluemarble_classes import CLASSES, IGNORE_INDEX, PALETTE
from altair.fileio import write_json
from altair.prediction.pipeline import predict_file
from altair.raster.write import read_geotiff, write_png
from altair.visualization.overlay import blend, colorize, with_legend


def _tiles(root: Path, split: str):
    import cv2
    for image in sorted((root / 'img_dir' / split).glob('*.png')):
        rgb = cv2.imread(str(image))[:, :, ::-1]
        yield rgb, cv2.imread(str(root / 'ann_dir' / split / image.name), cv2.IMREAD_UNCHANGED)


def tile_baselines(root: str | Path) -> dict[str, float]:
    """Val mIoU of the majority class and of the nearest class mean (RGB, standardised per
    band), both fitted on the training tiles of the Blue Marble dataset at ``root``."""
    import numpy as np

    from altair.evaluation.baselines import fit_class_means, majority_class, nearest_class_mean
    from altair.evaluation.scores import confusion, miou
    root, k = Path(root), len(CLASSES)
    train_tiles, val = list(_tiles(root, 'train')), list(_tiles(root, 'val'))
    major = majority_class([lab for _, lab in train_tiles], num_classes=k)
    means, std = fit_class_means([img for img, _ in train_tiles],
                                 [lab for _, lab in train_tiles], num_classes=k, return_std=True)
    return dict(
        majority_class=float(miou(sum(confusion(np.full_like(lab, major), lab, num_classes=k)
                                      for _, lab in val))),
        nearest_class_mean=float(miou(sum(confusion(nearest_class_mean(img, means, scale=std),
                                                    lab, num_classes=k) for img, lab in val))))


def _step(i: int, n: int, text: str) -> None:
    print(f'\n\033[1m[altair demo {i}/{n}]\033[0m {text}', flush=True)


def _data_options(data_root: str) -> dict:
    return {f'{split}_dataloader.dataset.data_root': data_root
            for split in ('train', 'val', 'test')}


def run_demo(*, config: str = 'configs/segformer.py', work_dir: str = 'work_dirs/demo',
             data_root: str = 'data/bluemarble', max_iters: int | None = None,
             precision: str | None = None, verbose: bool = False, track=None) -> dict:
    """Run the four demo steps and return a summary (also saved as ``summary.json``).
    ``verbose``: mmengine's whole log on the console (else progress displays, the log in the
    run's log files); ``track``: trackers for the training (see ``alt.train``)."""

    t0 = time.time()
    out = Path(work_dir)
    _step(1, 4, f'dataset: {data_root}')
    root = ensure_bluemarble(data_root)
    meta = json.loads((root / 'meta.json').read_text())
    print(f"{len(meta['tiles']['train'])} train / {len(meta['tiles']['val'])} val tiles "
          f"({meta['tile_size']} px), classes: {', '.join(meta['classes'])}")

    _step(2, 4, f'training {config} from scratch (work dir {out})')
    options = _data_options(str(root))
    if max_iters is not None:
        options.update({'train_cfg.max_iters': max_iters, 'train_cfg.val_interval': max_iters,
                        'default_hooks.checkpoint.interval': max_iters})
    t_train = time.time()
    run = train(config, work_dir=out, precision=precision, cfg_options=options, verbose=verbose,
                track=track)
    train_s = time.time() - t_train
    checkpoint = run.last_checkpoint

    _step(3, 4, 'evaluating on the val split (longitude bands unseen in training)')
    metrics = test(run, checkpoint, verbose=verbose)
    per_class = {k[len('IoU.'):]: v for k, v in metrics.items() if k.startswith('IoU.')}
    baselines = tile_baselines(root)
    best = max(baselines, key=baselines.get)

    import rasterio
    with rasterio.open(root / 'bluemarble_rgb.tif') as globe:
        _step(4, 4, f'predicting the whole {globe.width}x{globe.height} globe')
    model = load_model(run.config_path, checkpoint, device='cpu')
    written = predict_file(model, root / 'bluemarble_rgb.tif', out, window=(512, 512),
                           stride=(384, 384), overlap=None, window_batch=4, palette=PALETTE,
                           preview=False)
    label_tif = written['labels']
    labels, _ = read_geotiff(label_tif)
    truth, _ = read_geotiff(root / 'bluemarble_labels.tif')
    valid = truth != IGNORE_INDEX
    globe_acc = float((labels[valid] == truth[valid]).mean() * 100)
    rgb, _ = read_geotiff(root / 'bluemarble_rgb.tif')
    overlay = write_png(out / 'globe_overlay.png',
                        with_legend(blend(rgb, colorize(labels, PALETTE), 0.5), CLASSES, PALETTE))

    summary = dict(config=config, run=run.id, work_dir=str(out), train_seconds=round(train_s, 1),
                   total_seconds=round(time.time() - t0, 1),
                   mIoU=float(metrics['mIoU']), aAcc=float(metrics['aAcc']),
                   per_class_iou=per_class,
                   baselines={k: round(v, 2) for k, v in baselines.items()},
                   ratio_to_best_baseline=round(float(metrics['mIoU']) / baselines[best], 3),
                   globe_pixel_accuracy=round(globe_acc, 2),
                   label_geotiff=str(label_tif), overlay_png=str(overlay))
    write_json(out / 'summary.json', summary)
    print('\n' + '=' * 60)
    print(f"val mIoU {summary['mIoU']:.2f}  aAcc {summary['aAcc']:.2f}  "
          f'(trained {train_s / 60:.1f} min)')
    print('  '.join(f'{name} {per_class[name]:.1f}' for name in CLASSES if name in per_class))
    print('classical baselines on the same val tiles: ' + ', '.join(
        f'{name} {value:.2f}' for name, value in summary['baselines'].items())
        + f" (ratio to the best: {summary['ratio_to_best_baseline']:.2f})")
    print(f'whole-globe pixel accuracy vs MODIS: {globe_acc:.2f} % (train + val areas)')
    print(f'label GeoTIFF : {label_tif}\noverlay PNG   : {overlay}')
    print(f"run           : {run.id} (`altair runs`)")
    print(f"checkpoints   : {out}\nsummary       : {out / 'summary.json'}")
    print(f"total {summary['total_seconds'] / 60:.1f} min")
    return summary

