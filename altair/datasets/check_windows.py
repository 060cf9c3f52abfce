"""``altair check-data`` for datasets that read windows or slices (``RasterSceneDataset``,
``VolumeSliceDataset``): the dataset is built in full (its scene checks run), then every
evaluation-grid window or slice is read as training would read it."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from mmengine.registry import DefaultScope

from altair.config import split_datasets
from altair.datasets.check_report import Finding, SplitReport
from altair.datasets.scenes import LoadRaster
from altair.datasets.volume import LoadVolumeSlice
from altair.errors import AltairError
from altair.registry import DATASETS

WINDOWED = ('RasterSceneDataset', 'VolumeSliceDataset')


def check_windowed(cfg, splits: Iterable[str], report) -> None:
    """Append the findings and class pixels of ``cfg``'s windowed datasets to ``report``."""
    seen = []
    for split, ds_cfg in [(s, d) for s in splits for d in split_datasets(cfg, s)]:
        if ds_cfg in seen or ds_cfg.get('type') not in WINDOWED:
            continue
        seen.append(ds_cfg)
        raster = ds_cfg['type'] == 'RasterSceneDataset'
        # windows that tile without overlap (each pixel counted once): whole scenes, or the
        # blocks of a block split
        split_cfg = ds_cfg.get('split') or {}
        block = split_cfg.get('block_size', 1024) if split_cfg.get('by', 'block') == 'block' \
            and ds_cfg.get('split') else None
        extra = dict(mode='grid', window_size=block) if raster else {}
        try:
            with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'altair')):
                ds = DATASETS.build(dict(ds_cfg, pipeline=[], **extra))
        except AltairError as exc:
            report.findings.append(Finding('error', split, '-', str(exc)))
            continue
        classes = tuple(ds.metainfo['classes'])
        n = len(classes)
        rep = SplitReport(split, classes, class_pixels=np.zeros(n, np.int64),
                          class_images=np.zeros(n, np.int64))
        report.splits.append(rep)
        load = LoadRaster() if raster else LoadVolumeSlice()
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            try:
                label = load(info).get('gt_seg_map')
            except AltairError as exc:
                report.findings.append(Finding('error', split, info['img_path'], str(exc)))
                continue
            rep.images += 1
            if label is None:
                continue
            counts = np.bincount(label.ravel(), minlength=256)
            bad = np.flatnonzero(counts[n:255])
            if bad.size:
                report.findings.append(Finding(
                    'error', split, info['img_path'],
                    f'labels {", ".join(str(v + n) for v in bad[:8])} are not classes '
                    f'(0-{n - 1}) nor the ignore index 255'))
            rep.class_pixels += counts[:n]
            rep.class_images += counts[:n] > 0
            rep.ignored_pixels += int(counts[255])
        for name, px in zip(classes, rep.class_pixels):
            if split == 'train' and px == 0:
                report.findings.append(Finding('warning', split, '-',
                                               f"class '{name}' has no pixel in the training set"))
