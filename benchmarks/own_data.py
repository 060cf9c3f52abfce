#!/usr/bin/env python
"""Own data end to end: ``altair init`` + ``altair train`` on real data, against the classical
method a user would otherwise use, fitted and scored on the same split.

Datasets (real, from installed packages; see ``altair/datasets/sample_data.py``):

- ``landsat``: Landsat 8 scene 224/078 (3 bands uint16, 30 m, UTM 21S, nodata border) with
  MODIS MCD12C1 2019 land cover as labels (another CRS and resolution: 0.05 degree lon/lat).
  Baselines: per-pixel nearest class mean (bands standardised), majority class. Score: mIoU.
- ``nuclei``: Data Science Bowl 2018 fluorescence nuclei (512x512 uint16, hand-drawn masks,
  objects ~10 px across). Baselines: Otsu threshold (threshold and polarity fitted on the
  training blocks), nearest class mean, majority class. Score: foreground Dice.

The folder each one gets is what a user would have: the images, the label raster and a
``classes.json``. The split is the generated config's own (spatial blocks); baselines are
fitted on the training windows and scored on the validation windows of that split. The model
score is the last validation (no checkpoint selection). Prints one JSON line per dataset:
``ratio`` = model / best baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def prepare_landsat(folder: Path) -> Path:
    from altair.datasets.sample_data import IGBP, landsat_scene, modis_landcover
    folder.mkdir(parents=True)
    os.symlink(landsat_scene(), folder / 'landsat8_224078.tif')
    os.symlink(modis_landcover(), folder / 'labels.tif')
    (folder / 'classes.json').write_text(json.dumps(
        [dict(value=v, name=n) for v, n in IGBP.items()]))
    return folder


def prepare_nuclei(folder: Path) -> Path:
    """The instance mask becomes the semantic mask a user would train on (0/1)."""
    import rasterio

    from altair.datasets.sample_data import nuclei_image
    img, mask = nuclei_image()
    (folder / 'images').mkdir(parents=True)
    (folder / 'masks').mkdir()
    shutil.copy(img, folder / 'images' / 'dsb2018.tif')
    with rasterio.open(mask) as src:
        binary = (src.read(1) > 0).astype(np.uint8)
    with rasterio.open(folder / 'masks' / 'dsb2018.tif', 'w', driver='GTiff',
                       width=binary.shape[1], height=binary.shape[0], count=1,
                       dtype='uint8') as dst:
        dst.write(binary, 1)
    (folder / 'classes.json').write_text(json.dumps(
        [dict(value=0, name='background', color=[0, 0, 0]),
         dict(value=1, name='nucleus', color=[255, 64, 64])]))
    return folder


DATASETS = {'landsat': (prepare_landsat, 'mIoU'), 'nuclei': (prepare_nuclei, 'Dice')}


def _cli(*args: str, env: dict) -> str:
    proc = subprocess.run([sys.executable, '-m', 'altair', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"altair {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout + proc.stderr


def _windows(cfg, split: str, grid: bool):
    """Images and labels of every window of a split (train: its blocks tiled by a grid)."""
    from mmengine.registry import init_default_scope

    from altair.datasets.raster import LoadRaster, RasterSceneDataset
    init_default_scope('altair')
    ds_cfg = dict(cfg[f'{split}_dataloader']['dataset'])
    ds_cfg.pop('type')
    ds_cfg.update(pipeline=[], mode='grid' if grid else None)
    ds_cfg.pop('min_valid_fraction', None)
    ds = RasterSceneDataset(**ds_cfg)
    load = LoadRaster()
    for i in range(len(ds)):
        out = load(ds.get_data_info(i))
        yield out['img'], out['gt_seg_map']


def baselines(cfg, score: str) -> dict:
    """Each classical method fitted on the training windows, scored on the val windows."""
    from altair.evaluation import baselines as B
    k = len(cfg['classes'])
    train = list(_windows(cfg, 'train', grid=True))
    val = list(_windows(cfg, 'val', grid=True))
    imgs, labs = [t[0] for t in train], [t[1] for t in train]
    means, std = B.fit_class_means(imgs, labs, num_classes=k, return_std=True)
    major = B.majority_class(labs, num_classes=k)
    preds = dict(
        nearest_class_mean=[B.nearest_class_mean(img, means, scale=std) for img, _ in val],
        majority=[np.full(lab.shape, major, np.uint8) for _, lab in val])
    if k == 2:  # the training windows as one (N, 1, C) column image
        column = np.concatenate([i.reshape(-1, i.shape[-1]) for i in imgs])[:, None, :]
        column_labels = np.concatenate([lb.ravel() for lb in labs])[:, None]
        preds['otsu'] = [B.otsu_segment(img, train_image=column, train_labels=column_labels)
                         for img, _ in val]
    out = {}
    for name, pred in preds.items():
        conf = sum(B.confusion(p, lab, num_classes=k) for p, (_, lab) in zip(pred, val))
        out[name] = B.dice(conf, cls=1) * 100 if score == 'Dice' else B.miou(conf)
    return out


def last_val(runs_root: Path) -> dict:
    """The last validation of the newest run (no checkpoint selection on val)."""
    import altair as alt
    return alt.runs(runs_root)[-1].metrics[-1]


def bench(name: str, work: Path, *, iters: int, model: str, env: dict) -> dict:
    from mmengine.config import Config
    prepare, score = DATASETS[name]
    data = prepare(work / name)
    config = work / f'{name}_config.py'
    _cli('init', str(data), '--out', str(config), '--iters', str(iters), '--model', model,
         env=env)
    cfg = Config.fromfile(str(config))
    t0 = time.perf_counter()
    _cli('train', str(config), '--runs-root', str(work / 'runs'), env=env)
    minutes = (time.perf_counter() - t0) / 60
    val = last_val(work / 'runs')
    if score == 'Dice':
        iou = val[f"IoU.{cfg['classes'][1]}"]
        ours = 200 * iou / (100 + iou)  # global Dice from global IoU: 2 IoU / (1 + IoU)
    else:
        ours = val['mIoU']
    base = baselines(cfg, score)
    best = max(base, key=base.get)
    return dict(name=f'own_data_{name}', ratio=round(ours / base[best], 3),
                baseline=round(base[best], 2), baseline_method=best, ours=round(ours, 2),
                unit=f'val {score} (percent), same split', model=model, iters=iters,
                train_minutes=round(minutes, 1),
                baselines={k: round(v, 2) for k, v in base.items()})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--datasets', nargs='+', default=list(DATASETS), choices=list(DATASETS))
    p.add_argument('--iters', type=int, nargs='+', default=[600],
                   help='training iterations, one value or one per dataset')
    p.add_argument('--model', nargs='+', default=['unet'], help='one or one per dataset')
    p.add_argument('--keep', metavar='DIR', help='work in DIR and keep it')
    args = p.parse_args()
    env = dict(os.environ, ALTAIR_DISABLE_PLUGINS=os.environ.get('ALTAIR_DISABLE_PLUGINS', ''))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix='own_data_'))
    try:
        for i, name in enumerate(args.datasets):
            iters = args.iters[min(i, len(args.iters) - 1)]
            model = args.model[min(i, len(args.model) - 1)]
            print(json.dumps(bench(name, work, iters=iters, model=model, env=env)), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
