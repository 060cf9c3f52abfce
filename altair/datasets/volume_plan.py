"""The :class:`~altair.datasets.data_plan.DataPlan` of volumes: slices along one axis,
percentile-normalised, split by volume."""
from __future__ import annotations

import numpy as np

from altair.datasets.data_plan import (DataPlan, VolumeData, class_summary, floor32,
                                       random_split, spec_list)
from altair.datasets.inspect import Layout
from altair.datasets.label_stats import Classes, infer_classes, label_shares
from altair.datasets.plan import Choice
from altair.datasets.volume import norm_range
from altair.errors import DataError
from altair.raster.volume import open_volume

NORMALIZE = dict(mode='percentile', lower=0.5, upper=99.5)


def volume_plan(layout: Layout, *, crop_size: int | None = None, axis: int = 2,
                max_voxels: int = 2_000_000) -> DataPlan:
    """The plan of a volume layout: slices along ``axis``, intensities normalised per volume
    (``NORMALIZE``), mean and std from a strided sample of at most ``max_voxels`` a volume.

    Raises:
        DataError: fewer than 2 volumes (the split is by volume), or image and label volumes
            of different shapes.
    """
    pairs = layout.pairs
    if len(pairs) < 2:
        raise DataError(f"'{layout.root}' holds {len(pairs)} volume: train and val are split "
                        'by volume, so give at least 2 (image, label) volume pairs')
    counts: dict = {}
    total = sq = n = 0.0
    shapes, dtypes = [], set()
    for pair in pairs:
        img = open_volume(pair.img)
        lab = np.asarray(open_volume(pair.ann, role='label volume'))
        if tuple(img.shape) != lab.shape:
            raise DataError(f"label volume '{pair.ann}' is {lab.shape} but its image "
                            f"'{pair.img}' is {tuple(img.shape)}; give labels of the image shape")
        shapes.append(tuple(img.shape))
        dtypes.add(str(img.dtype))
        vals, c = np.unique(lab, return_counts=True)
        for v, k in zip(vals.tolist(), c.tolist()):
            counts[int(v)] = counts.get(int(v), 0) + k
        lo, hi = norm_range(img, NORMALIZE)
        # a strided sample of at most ~max_voxels, normalised as the dataset will
        s = max(1, int(np.ceil((np.prod(img.shape) / max_voxels) ** (1 / 3))))
        sample = np.asarray(img[::s, ::s, ::s], np.float64).ravel()
        sample = np.clip((sample - lo) / max(hi - lo, 1e-12), 0, 1)
        total, sq, n = total + sample.sum(), sq + (sample ** 2).sum(), n + sample.size
    classes: Classes = infer_classes(counts, layout.sidecar)
    if classes.mapping() is not None:
        raise DataError(f'label volumes must hold class indices 0..{len(classes.names) - 1}; '
                        f'they hold {classes.values}: relabel them')
    mean = total / n
    std = float(np.sqrt(max(sq / n - mean ** 2, 1e-12)))
    plane = [min(s[i] for s in shapes) for i in range(3) if i != axis]
    crop = crop_size or min(256, floor32(min(plane)))
    crop = min(crop, min(plane))
    shares = label_shares(counts, classes)
    data = VolumeData(spec_list(pairs, layout.root.resolve()),
                      random_split('volume', items=len(pairs)), axis, NORMALIZE)
    summary = [
        f"{len(pairs)} volume(s) of {', '.join('x'.join(map(str, s)) for s in shapes[:4])}"
        f"{', ...' if len(shapes) > 4 else ''}, {'/'.join(sorted(dtypes))}; slices along axis "
        f'{axis}, intensities clipped to each volume\'s 0.5-99.5th percentiles and scaled to '
        '[0, 1]',
        class_summary(classes, shares, 'voxels'),
        f'crop {crop}x{crop}; split: volumes, {int(100 * data.split["val_fraction"])}% held out; '
        'empty training slices skipped',
    ]
    choice = Choice(crop, '--crop' if crop_size else f'{floor32(min(plane))} px slices (<= 256)')
    return DataPlan(layout, classes, shares, [round(float(mean), 4)], [round(std, 4)], 1,
                    choice, data, summary)
