"""The :class:`~altair.datasets.data_plan.DataPlan` of volumes: slices along one axis,
normalised channel by channel, split by volume. A plain volumes folder has one channel,
percentile-normalised per volume; an nnU-Net raw dataset may have several, and a channel
named ``CT`` gets one window for the whole dataset, from the foreground voxels' intensities
(nnU-Net's CT normalisation: Isensee et al. 2021, *nnU-Net*, Nature Methods 18)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from altair.datasets.cases import case_files, check_label_volume, norm_range, open_case
from altair.datasets.data_plan import (DataPlan, VolumeData, class_summary, floor32, rel_path,
                                       random_split, spec_list)
from altair.datasets.inspect import Layout
from altair.datasets.label_stats import Classes, infer_classes, label_shares
from altair.datasets.plan import Choice
from altair.errors import DataError
from altair.raster.volume import open_volume, volume_geometry

NORMALIZE = dict(mode='percentile', lower=0.5, upper=99.5)
# the percentiles of the foreground voxels a CT window spans (nnU-Net's), and how many
# foreground voxels of all cases together they are estimated on at most
CT_PERCENTILES, CT_SAMPLE = (0.5, 99.5), 10_000_000
IGNORE_INDEX = 255


def volume_plan(layout: Layout, *, crop_size: int | None = None, axis: int = 2,
                context: int | None = None, max_voxels: int = 2_000_000) -> DataPlan:
    """The plan of a volume layout: slices along ``axis``, each channel normalised per volume
    (``NORMALIZE``) or, for a channel named ``CT``, by the dataset's window
    (:func:`ct_window`); mean and std per channel from a strided sample of at most
    ``max_voxels`` a volume, normalised as the dataset will.

    Raises:
        DataError: fewer than 2 volumes (the split is by volume), label volumes whose shape
            or affine differs from their image's, or label values the classes lack.
    """
    pairs = layout.pairs
    if len(pairs) < 2:
        raise DataError(f"'{layout.root}' holds {len(pairs)} volume: train and val are split "
                        'by volume, so give at least 2 (image, label) volume pairs')
    names = layout.channels or ['image']
    ct = [c for c, name in enumerate(layout.channels or []) if name.strip().lower() == 'ct']
    scan = scan_cases(layout, ct=ct, max_voxels=max_voxels)
    classes = _classes(layout, scan.counts)
    normalize = [ct_window(scan.foreground[c], names[c]) if c in ct else NORMALIZE
                 for c in range(len(names))]
    mean, std = channel_stats(layout, normalize, max_voxels=max_voxels)
    around = slice_context(scan.spacings, axis) if context is None else Choice(
        context, '--context')
    per = 2 * around.value + 1  # each channel's slices, as LoadVolumeSlice stacks them
    mean, std = [m for m in mean for _ in range(per)], [s for s in std for _ in range(per)]
    plane = [min(s[i] for s in scan.shapes) for i in range(3) if i != axis]
    crop = crop_size or min(256, floor32(min(plane)))
    crop = min(crop, min(plane))
    shares = label_shares(scan.counts, classes)
    root = layout.root.resolve()
    data = VolumeData(spec_list(pairs, root), random_split('volume', items=len(pairs)), axis,
                      normalize[0] if all(n == normalize[0] for n in normalize) else normalize,
                      [[rel_path(f, root) for f in case] for case in layout.predict],
                      context=around.value)
    summary = [*_image_lines(layout, scan, normalize, axis),
               f'context: {around.value} slice(s) on either side -- {around.reason}',
               class_summary(classes, shares, 'voxels'),
               f'crop {crop}x{crop}; split: volumes, {int(100 * data.split["val_fraction"])}% '
               'held out; empty training slices skipped']
    if layout.predict:
        summary.append(f'{len(layout.predict)} case(s) in imagesTs/ to predict, listed as '
                       'predict_cases (not used in training)')
    choice = Choice(crop, '--crop' if crop_size else f'{floor32(min(plane))} px slices (<= 256)')
    return DataPlan(layout, classes, shares, mean, std, len(names) * per, choice, data, summary)


ANISOTROPY = 3.0  # nnU-Net's: a spacing over 3x the smallest makes a volume anisotropic


def slice_context(spacings: list, axis: int) -> Choice:
    """2.5-D context from the voxel sizes: one slice on either side of each slice when the
    through-plane spacing is at most ``ANISOTROPY`` times the in-plane one in every volume
    (neighbouring slices then show the same structures a voxel or so away), else none
    (slices too far apart to add context) or where a volume has no voxel sizes (``.npy``)."""
    if not spacings or any(s is None for s in spacings):
        return Choice(0, 'a volume without voxel sizes (.npy): slices alone')
    ratio = max(s[axis] / min(v for i, v in enumerate(s) if i != axis) for s in spacings)
    if ratio <= ANISOTROPY:
        return Choice(1, f'through-plane spacing at most {ratio:.2g}x the in-plane (<= '
                         f'{ANISOTROPY:g}, nnU-Net\'s anisotropy threshold): the slices on '
                         'either side are channels too')
    return Choice(0, f'through-plane spacing up to {ratio:.2g}x the in-plane (> '
                     f'{ANISOTROPY:g}): neighbouring slices are too far apart; slices alone')


@dataclass
class CaseScan:
    """What one read of every case gives: the label value counts, each case's shape, the
    image dtypes, and (per CT channel) a sample of the foreground voxels' intensities."""
    counts: dict = field(default_factory=dict)
    shapes: list = field(default_factory=list)
    dtypes: set = field(default_factory=set)
    foreground: dict = field(default_factory=dict)
    spacings: list = field(default_factory=list)  # per case: (sx, sy, sz) mm, or None


def sample_step(shape: tuple[int, ...], max_voxels: int) -> int:
    """The stride along every axis that leaves at most ``max_voxels`` of a volume (the rule
    of :func:`~altair.raster.volume.percentiles`)."""
    step = max(1, int(math.floor((math.prod(shape) / max_voxels) ** (1 / 3))))
    while math.prod(-(-d // step) for d in shape) > max_voxels:
        step += 1
    return step


def scan_cases(layout: Layout, *, ct: list[int], max_voxels: int) -> CaseScan:
    """Read every case once: check its label volume against its image (shape and affine),
    count the label values, and sample the foreground voxels (label not 0 nor
    ``IGNORE_INDEX``) of the ``ct`` channels: on the strided grid of at most ``max_voxels``
    a case, then every k-th of them so a case gives at most ``CT_SAMPLE / cases``."""
    scan = CaseScan(foreground={c: [] for c in ct})
    quota = max(1, CT_SAMPLE // len(layout.pairs))
    for pair in layout.pairs:
        arrays = open_case(pair.img)
        shape = tuple(int(d) for d in arrays[0].shape)
        check_label_volume(case_files(pair.img)[0], pair.ann, shape=shape)
        lab = np.asarray(open_volume(pair.ann, role='label volume'))
        scan.shapes.append(shape)
        first = case_files(pair.img)[0]
        scan.spacings.append(None if first.lower().endswith('.npy') else
                             tuple(volume_geometry(first)['spacing']))
        scan.dtypes.update(str(a.dtype) for a in arrays)
        vals, c = np.unique(lab, return_counts=True)
        for v, k in zip(vals.tolist(), c.tolist()):
            scan.counts[int(v)] = scan.counts.get(int(v), 0) + k
        if ct:
            s = sample_step(shape, max_voxels)
            fg = lab[::s, ::s, ::s]
            fg = (fg != 0) & (fg != IGNORE_INDEX)
            for ch in ct:
                values = np.asarray(arrays[ch][::s, ::s, ::s], np.float64)[fg]
                values = values[np.isfinite(values)]
                scan.foreground[ch].append(values[::-(-values.size // quota) or 1])
    return scan


def ct_window(samples: list[np.ndarray], name: str = 'CT') -> dict:
    """``dict(mode='window', center, width)`` spanning the ``CT_PERCENTILES`` of the
    foreground voxels sampled from every case (nnU-Net's CT normalisation).

    Raises:
        DataError: no foreground voxel, or all of one value (no window to span).
    """
    values = np.concatenate(samples) if samples else np.zeros(0)
    if values.size == 0:
        raise DataError(f"channel {name!r} is normalised as CT from the foreground voxels, "
                        'but no label volume holds a foreground voxel; label some, or name '
                        'the channel otherwise in dataset.json channel_names')
    lo, hi = (float(v) for v in np.percentile(values, CT_PERCENTILES))
    if not hi > lo:
        raise DataError(f"channel {name!r}: the foreground voxels' {CT_PERCENTILES[0]} and "
                        f'{CT_PERCENTILES[1]} percentiles are both {lo:g}, no CT window to '
                        'span; name the channel otherwise in dataset.json channel_names')
    return dict(mode='window', center=round((lo + hi) / 2, 4), width=round(hi - lo, 4))


def channel_stats(layout: Layout, normalize: list[dict], *,
                  max_voxels: int) -> tuple[list[float], list[float]]:
    """Per channel, the mean and std of the voxels normalised as the dataset will (by
    ``normalize[c]``), on a strided sample of at most ``max_voxels`` a volume."""
    n = len(normalize)
    total, sq, count = [0.0] * n, [0.0] * n, [0.0] * n
    for pair in layout.pairs:
        for c, img in enumerate(open_case(pair.img)):
            lo, hi = norm_range(img, normalize[c])
            s = max(1, int(np.ceil((np.prod(img.shape) / max_voxels) ** (1 / 3))))
            sample = np.asarray(img[::s, ::s, ::s], np.float64).ravel()
            sample = np.clip((sample - lo) / max(hi - lo, 1e-12), 0, 1)
            total[c], sq[c] = total[c] + sample.sum(), sq[c] + (sample ** 2).sum()
            count[c] = count[c] + sample.size
    mean = [t / k for t, k in zip(total, count)]
    std = [float(np.sqrt(max(q / k - m ** 2, 1e-12))) for q, k, m in zip(sq, count, mean)]
    return [round(float(m), 4) for m in mean], [round(s, 4) for s in std]


def _classes(layout: Layout, counts: dict) -> Classes:
    """The classes: ``dataset.json``'s labels (nnU-Net), else the sidecar or the values."""
    if layout.class_names is not None:
        k = len(layout.class_names)
        extra = sorted(v for v in counts if not 0 <= v < k and v != IGNORE_INDEX)
        if extra:
            raise DataError(f"label volumes hold the values {extra[:8]} that "
                            f"'{layout.root / 'dataset.json'}' labels do not list (0..{k - 1}); "
                            'add them to labels or relabel the volumes')
        return Classes(list(layout.class_names), list(range(k)))
    classes = infer_classes(counts, layout.sidecar)
    if classes.mapping() is not None:
        raise DataError(f'label volumes must hold class indices 0..{len(classes.names) - 1}; '
                        f'they hold {classes.values}: relabel them')
    return classes


def _image_lines(layout: Layout, scan: CaseScan, normalize: list[dict], axis: int) -> list[str]:
    shapes = scan.shapes
    sizes = (f"{', '.join('x'.join(map(str, s)) for s in shapes[:4])}"
             f"{', ...' if len(shapes) > 4 else ''}, {'/'.join(sorted(scan.dtypes))}")
    if layout.channels is None:
        return [f'{len(shapes)} volume(s) of {sizes}; slices along axis {axis}, intensities '
                "clipped to each volume's 0.5-99.5th percentiles and scaled to [0, 1]"]
    how = [f"{c} {name!r}: " + (f"window {n['center']:g} +- {n['width'] / 2:g} (the "
                                "foreground voxels' 0.5-99.5th percentiles)"
                                if n['mode'] == 'window' else
                                "each volume's 0.5-99.5th percentiles")
           for c, (name, n) in enumerate(zip(layout.channels, normalize))]
    return [f'{len(shapes)} case(s) of {sizes}, {len(layout.channels)} channel(s); slices '
            f'along axis {axis}',
            'each channel clipped and scaled to [0, 1]: ' + '; '.join(how)]
