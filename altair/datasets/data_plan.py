"""What ``altair init`` learns from a data folder, as one typed :class:`DataPlan`: the classes
and their shares, the input statistics, the crop, how the data are listed and split, and the
summary lines. One builder per layout kind (:func:`scene_plan` here; ``volume_plan`` in
``altair.datasets.volume_plan``); ``altair.api.init_render`` writes any plan into a config.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from altair.datasets import plan
from altair.datasets.inspect import BandStats, Layout, Pair, image_stats
from altair.datasets.label_stats import (Classes, SmallLabels, check_class_names,
                                         check_label_values, class_index_map, infer_classes,
                                         label_counts, label_shares, object_stats)
from altair.datasets.objects import block_class_counts
from altair.errors import AltairError
from altair.raster.vector import is_vector, vector_fields

# with fewer images than this, training and validation windows come from blocks of each image
FEW_IMAGES = 5
# the largest validation window (see validation_side), and the tiles of larger images
WHOLE_VALIDATION_SIDE, VAL_WINDOW = 1024, 512


class InitOptionError(AltairError, ValueError):
    """An ``altair init`` option outside what it accepts."""


@dataclass(frozen=True)
class SceneData:
    """Images read as ``RasterSceneDataset`` windows: the train/val spec lists (``img``,
    ``ann`` relative to the data root), the split (None: the folder's train/val folders), the
    dataset's keyword options and the validation window (None: whole images)."""
    scenes: dict[str, list[dict]]
    split: dict | None
    options: dict
    val_window: tuple[int, int] | None


@dataclass(frozen=True)
class VolumeData:
    """Volumes read as ``VolumeSliceDataset`` slices along ``axis``, normalised by
    ``normalize`` (one dict, or one per channel) and split by volume; ``predict``: the cases
    to predict (nnU-Net's ``imagesTs/``, one list of channel files each, relative to the
    data root), not used in training."""
    volumes: list[dict]
    split: dict
    axis: int
    normalize: dict | list
    predict: list[list[str]] = field(default_factory=list)
    context: int = 0  # slices on either side read as more channels (2.5-D)


@dataclass
class DataPlan:
    """A data folder as ``altair init`` plans training on it.

    Attributes:
        layout: the folder's layout (its kind, root and image/label pairs).
        classes, shares: the classes and their shares of the labelled pixels.
        mean, std: per-input-channel normalisation, ``in_channels`` of them.
        crop: the training crop side, and why.
        data: how the config lists and reads the data.
        summary: lines that describe the data, for the config header and the console.
        validation: the planned held-out blocks of one scene (None: a random or given split).
    """
    layout: Layout
    classes: Classes
    shares: list[float]
    mean: list[float]
    std: list[float]
    in_channels: int
    crop: plan.Choice
    data: SceneData | VolumeData
    summary: list[str] = field(default_factory=list)
    validation: plan.Choice | None = None

    @property
    def root(self) -> Path:
        return self.layout.root.resolve()


def floor32(n: float) -> int:
    """``n`` rounded down to a multiple of 32, at least 32 (a crop or block side)."""
    return max(32, int(n) // 32 * 32)


def rel_path(path: str, root: Path) -> str:
    """``path`` relative to ``root`` where it lies below it, else as given."""
    rel = os.path.relpath(path, root)
    return path if rel.startswith('..') else rel


def class_summary(classes: Classes, shares: list[float], what: str) -> str:
    """``classes (share of labelled pixels): a 80.1%, b 19.9%`` (absent classes named once)."""
    present = ', '.join(f'{n} {100 * s:.1f}%' for n, s in zip(classes.names, shares) if s > 0)
    absent = [n for n, s in zip(classes.names, shares) if s == 0]
    text = f'classes (share of labelled {what}): {present}'
    if absent:
        text += (f'; {len(absent)} of the {len(shares)} classes have no labelled pixel '
                 f"({', '.join(absent)})")
    return text


def spec_list(pairs: Sequence[Pair], root: Path) -> list[dict]:
    """``[dict(img=..., ann=...)]`` of ``pairs``, relative to ``root`` where they lie below it
    (else as given: absolute paths, ``pkg://`` sources); an image of channel files is a list
    of them."""
    return [dict(img=rel_path(p.img, root) if isinstance(p.img, str) else
                 [rel_path(f, root) for f in p.img], ann=rel_path(p.ann, root)) for p in pairs]


def random_split(by: str, *, items: int, **extra) -> dict:
    """A seeded split holding out a quarter of one scene's blocks, else a fifth of the
    scenes, volumes or blocks."""
    return dict(by=by, **extra, val_fraction=0.25 if by == 'block' and items == 1 else 0.2,
                seed=0)


def scene_plan(layout: Layout, *, bands: Sequence[int | str] | None = None,
               nodata: float | None = None, class_field: str | None = None,
               class_name: str | None = None, unlabelled_outside: bool = False,
               crop_size: int | None = None, receptive_field: int | None = None) -> DataPlan:
    """The plan of images read as raster scenes (layouts mmseg, pairs and scenes).

    Raises:
        InitOptionError: ``class_name`` for labels that are not footprints, or
            ``unlabelled_outside`` for footprints.
        DataError: the images or labels (each message names the file).
    """
    pairs = layout.pairs
    vector = any(p.ann and is_vector(p.ann) for p in pairs)
    footprints = vector and class_field is None
    _check_vector_options(footprints, class_name=class_name,
                          unlabelled_outside=unlabelled_outside)
    stats = image_stats([p.img for p in pairs], bands=list(bands) if bands else None,
                        nodata=nodata)
    maps: list[SmallLabels] = []
    if footprints:
        counts = label_counts(pairs, footprints=(1, 0), maps=maps)
        classes = (infer_classes(counts, layout.sidecar) if layout.sidecar else
                   footprint_classes(pairs, class_name))
    else:
        counts = label_counts(pairs, class_field=class_field, maps=maps)
        classes = infer_classes(counts, layout.sidecar)
    for pair in pairs[:64]:
        check_label_values(pair, classes)
    min_side = min(min(s) for s in stats.sizes)
    few = len(pairs) < FEW_IMAGES
    # few images: the crop leaves at least 4 blocks along the shorter side
    background = 0 if len(classes.names) == 2 else None
    crop_choice = (plan.crop_size(object_stats(maps, classes, background=background),
                                  min_side=floor32(min_side / 4) if few else min_side,
                                  background=background, receptive_field=receptive_field)
                   if crop_size is None else plan.Choice(crop_size, '--crop'))
    crop = min(crop_choice.value, min_side)
    block = max(2 * crop, floor32(min_side / 4)) if few else None
    val_side = validation_side(block=block, max_side=max(max(s) for s in stats.sizes))
    scenes, split, validation = _scene_split(layout, block=block, maps=maps, classes=classes)
    options = dict(bands=list(bands) if bands else None, nodata=stats.nodata,
                   label_values=classes.mapping())
    if footprints:  # class 1 inside the polygons, background (0) elsewhere in the image
        options.update(footprint_class=1, vector_fill=0)
    elif vector:
        lower = [n.lower() for n in classes.names]
        fill = lower.index('background') if 'background' in lower else None
        options.update(class_field=class_field,
                       vector_fill=None if unlabelled_outside else fill)
    shares = label_shares(counts, classes)
    summary = [
        _image_line(pairs, stats), class_summary(classes, shares, 'pixels' if footprints or
                                                 not vector else 'polygon pixels'),
        *([footprint_line(pairs, classes)] if footprints else []),
        f'per-band mean {stats.mean}, std {stats.std}',
        f'crop {crop}x{crop}; split: ' + ('the train/val folders' if split is None else
                                        f"{split['by']}s, {int(100 * split['val_fraction'])}% "
                                        'held out' + (f", blocks of {block} px" if block else '')),
    ]
    data = SceneData(scenes, split, {k: v for k, v in options.items() if v is not None},
                     None if val_side is None else (val_side, val_side))
    return DataPlan(layout, classes, shares, stats.mean, stats.std, stats.count,
                    plan.Choice(crop, crop_choice.reason, crop_choice.summary), data, summary,
                    validation)


def validation_side(*, block: int | None, max_side: int) -> int | None:
    """The side of the validation windows: a scene split in blocks is validated one held-out
    block a window (tiles smaller than the block would count the pixels where they overlap
    twice and cost the pixels along each cut their context), blocks wider than
    ``WHOLE_VALIDATION_SIDE`` in tiles of that side; images split whole are validated whole
    up to that side (None), larger ones in ``VAL_WINDOW`` tiles."""
    if block is not None:
        return min(block, WHOLE_VALIDATION_SIDE)
    return None if max_side <= WHOLE_VALIDATION_SIDE else VAL_WINDOW


def _check_vector_options(footprints: bool, *, class_name: str | None,
                          unlabelled_outside: bool) -> None:
    if class_name is not None and not footprints:
        raise InitOptionError('--class-name names the one class of polygon footprints (vector '
                              'labels without --class-field); these labels are not footprints')
    if footprints and unlabelled_outside:
        raise InitOptionError('--unlabelled-outside leaves footprints (polygons without '
                              '--class-field) one class and nothing to tell it from: give '
                              '--class-field, or drop --unlabelled-outside to make the rest '
                              'of the image background')


def _scene_split(layout: Layout, *, block: int | None, maps: list[SmallLabels],
                 classes: Classes) -> tuple[dict, dict | None, plan.Choice | None]:
    """The train/val spec lists, the split (None where the folder has train/val folders)
    and, for one scene split in blocks, the planned held-out blocks: a fair share of every
    class (``plan.stratified_blocks``)."""
    pairs, root = layout.pairs, layout.root.resolve()
    if {p.split for p in pairs} >= {'train', 'val'}:
        return {s: spec_list([p for p in pairs if p.split == s], root)
                for s in ('train', 'val')}, None, None
    specs = spec_list(pairs, root)
    scenes = {'train': specs, 'val': [dict(s) for s in specs]}
    if block is None:
        return scenes, random_split('scene', items=len(pairs)), None
    split = random_split('block', items=len(pairs), block_size=block)
    if len(pairs) > 1 or not maps:
        return scenes, split, None
    counts_by_block = block_class_counts(
        class_index_map(maps[0], classes), block=block, factor=maps[0].factor,
        num_classes=len(classes.names))
    try:
        choice = plan.stratified_blocks(counts_by_block, val_fraction=split['val_fraction'])
    except plan.PlanError:  # labels in one block only: the random draw
        return scenes, split, None
    return scenes, dict(split, val_blocks=choice.value), choice


def _image_line(pairs: Sequence[Pair], stats: BandStats) -> str:
    nd = ('none' if stats.nodata is None else
          f'{stats.nodata:g} (inferred from the all-{stats.nodata:g} border)'
          if stats.nodata_inferred else f'{stats.nodata:g}')
    return (f'{len(pairs)} image(s) {_sizes(stats.sizes)}, {stats.count} band(s) '
            f'{stats.dtype}, nodata {nd}, {100 * stats.valid_fraction:.1f}% valid pixels')


def footprint_line(pairs: Sequence[Pair], classes: Classes) -> str:
    """What footprint mode did, and the attributes a class could come from instead."""
    fields = sorted({f for p in pairs if p.ann and is_vector(p.ann)
                     for f in vector_fields(p.ann)['fields']})
    hint = (f"; the polygons' attributes ({', '.join(fields[:6])}) could give one class per "
            'value: --class-field NAME' if fields else '')
    return (f'polygons without --class-field: footprints, {classes.names[1]!r} inside, '
            f'background elsewhere in the image{hint}')


# words of a label file's name that say nothing of what its polygons are
_GENERIC = re.compile(r'[_-]?(labels?|annotations?|polygons|footprints|masks?|vectors|gt)$')


def footprint_classes(pairs: Sequence[Pair], class_name: str | None) -> Classes:
    """``background`` and the footprints' class: ``class_name``, else what the labels files'
    name says (``buildings.geojson`` or ``buildings_labels.gpkg`` -> ``buildings``; names
    that say nothing, such as ``labels.geojson`` or ``scene1_labels.shp`` beside
    ``scene1.tif``, and files that disagree -> ``foreground``).

    Raises:
        DataError: a class name holding a line break or control character.
    """
    if class_name is None:
        names = set()
        for p in pairs:
            stem = _GENERIC.sub('', Path(p.ann).stem.lower()) if p.ann else ''
            names.add('' if stem == Path(p.img).stem.lower() else stem)
        class_name = names.pop() if len(names) == 1 else ''
        class_name = class_name or 'foreground'
        source = 'the labels file name'
    else:
        source = '--class-name'
    check_class_names([class_name], source)
    return Classes(['background', class_name], [0, 1])


def _sizes(sizes: list[tuple[int, int]]) -> str:
    hs, ws = [s[0] for s in sizes], [s[1] for s in sizes]
    if len(set(sizes)) == 1:
        return f'of {ws[0]}x{hs[0]}'
    return f'of {min(ws)}-{max(ws)} x {min(hs)}-{max(hs)}'
