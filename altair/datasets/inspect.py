"""What ``altair init`` reads from a data folder: its layout, bands, dtype, nodata, classes,
per-band statistics and class shares. Pure reading; writing the config is ``altair.api.init``.
"""
from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from altair.datasets.plan import component_areas, summarise_areas
from altair.datasets.scenes.sampling import decimation
from altair.errors import DataError, DataNotFoundError
from altair.raster.errors import LabelAlignmentError
from altair.raster.formats import PICTURE_SUFFIXES, VECTOR_SUFFIXES, VOLUME_SUFFIXES
from altair.raster.grid import Grid, check_label_grid, read_label_raster, scene_grid
from altair.raster.labels import to_classes
from altair.raster.nodata import nodata_mask
from altair.raster.read import open_raster, read_bands, resolve_bands
from altair.raster.vector import (VectorLabelError, burn, class_values, is_vector,
                                  read_vector_labels, vector_fields)

LABEL_WORDS = ('label', 'labels', 'mask', 'masks', 'annotation', 'gt', 'ann')

LAYOUTS = """\
accepted layouts:
  (a) mmseg             (b) images + masks     (c) GeoTIFF scenes            (d) volumes
  DATA/                 DATA/                  DATA/                         DATA/
    img_dir/[train/]      images/x.tif           scene1.tif                    images/ (or imagesTr/)
    ann_dir/[train/]      masks/x.png            scene2.tif                      case1.nii.gz
    [classes.json]        [classes.json]         labels.tif | labels.geojson   labels/ (or labelsTr/)
                                                 (or sceneN_labels.tif each)     case1.nii.gz
                                                 [classes.json]                [classes.json]"""


class DataLayoutError(DataError):
    """A data folder that matches none of the layouts ``altair init`` knows."""


class ClassesSidecarError(DataError):
    """A ``classes.json`` that cannot be read as classes."""


@dataclass
class Pair:
    img: str
    ann: str | None
    split: str | None = None  # 'train' / 'val' when the folder says so


@dataclass
class Layout:
    kind: str                 # 'mmseg', 'pairs', 'scenes', 'volumes'
    root: Path
    pairs: list[Pair]
    sidecar: Path | None = None

    @property
    def title(self) -> str:
        return {'mmseg': "(a) mmseg img_dir/ + ann_dir/",
                'pairs': '(b) images/ + masks/, matched by file stem',
                'scenes': '(c) GeoTIFF scenes + labels',
                'volumes': '(d) volumes + label volumes'}[self.kind]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in VOLUME_SUFFIXES + PICTURE_SUFFIXES + VECTOR_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return path.stem


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.rglob('*') if p.is_file() and not p.name.startswith('.')
                  and p.name.lower().endswith(suffixes))


def _match(images: list[Path], masks: list[Path], img_root: Path, ann_root: Path) -> list[Pair]:
    """Pair each image with the mask of the same relative folder and stem.

    Raises:
        DataError: images without a mask (named, with how many).
    """
    by_key = {(str(m.parent.relative_to(ann_root)), _stem(m)): m for m in masks}
    pairs, missing = [], []
    for img in images:
        rel = img.parent.relative_to(img_root)
        mask = by_key.get((str(rel), _stem(img)))
        if mask is None:
            missing.append(img)
            continue
        split = rel.parts[0] if rel.parts and rel.parts[0] in ('train', 'val', 'test') else None
        pairs.append(Pair(str(img), str(mask), split))
    if missing:
        raise DataError(
            f"{len(missing)} image(s) have no mask, e.g. '{missing[0]}' (looked for "
            f"'{ann_root / missing[0].parent.relative_to(img_root) / _stem(missing[0])}.*'); "
            'give every image a mask with the same file stem, or move it out of the folder')
    return pairs


def detect_layout(root: str | os.PathLike) -> Layout:
    """Which of the four layouts ``root`` follows, with its image/label pairs.

    Raises:
        DataNotFoundError: ``root`` does not exist.
        DataLayoutError: it matches no layout (the message draws each accepted one).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"data folder '{root}' does not exist")
    sidecar = root / 'classes.json'
    sidecar = sidecar if sidecar.is_file() else None
    for img_name, ann_name, kind in (('img_dir', 'ann_dir', 'mmseg'), ('images', 'masks', 'pairs'),
                                     ('imagesTr', 'labelsTr', 'volumes'),
                                     ('images', 'labels', None), ('volumes', 'labels', 'volumes')):
        img_dir, ann_dir = root / img_name, root / ann_name
        if not (img_dir.is_dir() and ann_dir.is_dir()):
            continue
        vols = _files(img_dir, VOLUME_SUFFIXES)
        if kind == 'volumes' or (kind is None and vols):
            return Layout('volumes', root, _match(vols, _files(ann_dir, VOLUME_SUFFIXES),
                                                  img_dir, ann_dir), sidecar)
        imgs = _files(img_dir, PICTURE_SUFFIXES)
        if not imgs:
            raise DataLayoutError(f"'{img_dir}' holds no images ({', '.join(PICTURE_SUFFIXES)})\n"
                                  + LAYOUTS)
        pairs = _match(imgs, _files(ann_dir, PICTURE_SUFFIXES), img_dir, ann_dir)
        return Layout(kind or 'pairs', root, pairs, sidecar)
    top = [p for p in sorted(root.iterdir()) if p.is_file() and not p.name.startswith('.')]
    rasters = [p for p in top if p.name.lower().endswith(PICTURE_SUFFIXES)]
    vectors = [p for p in top if p.name.lower().endswith(VECTOR_SUFFIXES)]
    labels = [p for p in rasters if any(w in _stem(p).lower().replace('-', '_').split('_')
                                        for w in LABEL_WORDS)]
    scenes = [p for p in rasters if p not in labels]
    if scenes and (labels or vectors):
        return Layout('scenes', root, _pair_scenes(scenes, labels + vectors), sidecar)
    raise DataLayoutError(f"'{root}' matches no data layout Altair knows\n" + LAYOUTS)


def _pair_scenes(scenes: list[Path], labels: list[Path]) -> list[Pair]:
    """Each scene with ``<stem>_labels.*`` (or ``_mask``, ...) when there is one, else with
    the one label file that all scenes share."""
    own = {}
    for lab in labels:
        parts = _stem(lab).replace('-', '_').split('_')
        base = '_'.join(p for p in parts if p.lower() not in LABEL_WORDS)
        own[base] = lab
    shared = [lab for lab in labels if _stem(lab).lower() in LABEL_WORDS or len(labels) == 1]
    pairs = []
    for scene in scenes:
        lab = own.get(_stem(scene)) or (shared[0] if len(shared) == 1 else None)
        if lab is None:
            raise DataError(
                f"scene '{scene}' has no labels: name them '{_stem(scene)}_labels.tif' (or "
                f".geojson), or give all scenes one 'labels.tif' / 'labels.geojson'")
        pairs.append(Pair(str(scene), str(lab)))
    return pairs


# --- classes ------------------------------------------------------------------------------
@dataclass
class Classes:
    names: list[str]
    values: list[Any]              # raw label value (or attribute value) of each class
    palette: list[list[int]] | None = None

    def mapping(self) -> dict | None:
        """{raw value: class index}, or None when the values are already 0..K-1."""
        if self.values == list(range(len(self.values))):
            return None
        return {v: i for i, v in enumerate(self.values)}


def read_sidecar(path: Path) -> Classes:
    """Read ``classes.json``: ``[{"value": 0, "name": "background", "color": [0, 0, 0]},
    ...]``, or ``{"classes": [...names], "palette": [...]}`` (values 0..K-1), or
    ``{"0": "background", "1": "nucleus"}``.

    Raises:
        ClassesSidecarError: naming the file and the accepted forms.
    """
    forms = ('[{"value": 0, "name": "background", "color": [0, 0, 0]}, ...], '
             '{"classes": ["background", ...], "palette": [[0, 0, 0], ...]} or '
             '{"0": "background", ...}')
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ClassesSidecarError(f"cannot read classes sidecar '{path}': {exc}") from None
    try:
        if isinstance(data, list):
            values = [d['value'] for d in data]
            names = [str(d.get('name', d['value'])) for d in data]
            colors = [d.get('color') for d in data]
            palette = [list(c) for c in colors] if all(c is not None for c in colors) else None
            return Classes(names, values, palette)
        if isinstance(data, dict) and 'classes' in data:
            names = [str(n) for n in data['classes']]
            return Classes(names, list(range(len(names))), data.get('palette'))
        if isinstance(data, dict):
            values = [int(k) if str(k).lstrip('-').isdigit() else k for k in data]
            return Classes([str(v) for v in data.values()], values)
    except (KeyError, TypeError) as exc:
        raise ClassesSidecarError(f"classes sidecar '{path}': missing {exc}; expected "
                                  f'{forms}') from None
    raise ClassesSidecarError(f"classes sidecar '{path}' is not one of {forms}")


# --- statistics ---------------------------------------------------------------------------
@dataclass
class BandStats:
    count: int
    dtype: str
    nodata: float | None
    nodata_inferred: bool
    mean: list[float]
    std: list[float]
    valid_fraction: float
    sizes: list[tuple[int, int]] = field(default_factory=list)   # (H, W) of each image


def _border_nodata(img: np.ndarray, *, frame_share: float = 0.2) -> float | None:
    """0 (or the dtype's maximum) when at least ``frame_share`` of the outer frame of pixels
    is that value in every band, as in scenes with a nodata border but no nodata tag (a
    rotated Landsat footprint leaves a third of its frame at 0)."""
    frame = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    for value in (0, np.iinfo(img.dtype).max if img.dtype.kind in 'ui' else None):
        if value is not None and (frame == value).all(-1).mean() >= frame_share:
            return float(value)
    return None


def image_stats(paths: list[str], *, bands: list[int] | None, nodata: float | None,
                max_images: int = 64, max_side: int = 1024) -> BandStats:
    """Per-band mean and std over the valid pixels of up to ``max_images`` images, each
    read decimated to ``max_side``; band count, dtype and nodata checked to agree.

    Raises:
        DataError: images with different band counts or dtypes (named).
    """
    first = None
    total = sq = None
    n = valid = seen = 0
    inferred = False
    step = max(1, len(paths) // max_images)
    sizes = []
    for k, path in enumerate(paths):
        with open_raster(path) as src:
            idx = resolve_bands(src, bands)
            sizes.append((src.height, src.width))
            kind = (len(idx), src.dtypes[0])
            if first is None:
                first = (path, kind, src.nodata)
            elif kind != first[1]:
                raise DataError(
                    f"images differ: '{first[0]}' has {first[1][0]} band(s) of {first[1][1]} "
                    f"but '{path}' has {kind[0]} of {kind[1]}; choose the same bands for all "
                    'with --bands, or convert them to one dtype')
            if k % step:
                continue
            f = decimation(src.height, src.width, max_side)
            img = read_bands(src, idx, out_shape=(-(-src.height // f), -(-src.width // f)))
            nd = nodata if nodata is not None else src.nodata
            if nd is None and k == 0:
                nd = _border_nodata(img)
                inferred = nd is not None
                nodata = nd if inferred else None
            ok = ~nodata_mask(img, nd)
            px = img[ok].astype(np.float64)
            total = px.sum(0) if total is None else total + px.sum(0)
            sq = (px ** 2).sum(0) if sq is None else sq + (px ** 2).sum(0)
            n += len(px)
            valid += ok.sum()
            seen += ok.size
    if n == 0:
        raise DataError(f"no valid pixel in the images (e.g. '{paths[0]}'): check the nodata "
                        'value (--nodata)')
    mean = total / n
    std = np.sqrt(np.maximum(sq / n - mean ** 2, 0))
    std = np.where(std > 0, std, 1.0)
    out_nodata = nodata if nodata is not None else first[2]
    return BandStats(first[1][0], first[1][1], out_nodata, inferred,
                     [float(round(m, 4)) for m in mean], [float(round(s, 4)) for s in std],
                     valid / max(seen, 1), sizes)


def label_counts(pairs: list[Pair], *, class_field: str | None = None,
                 footprints: tuple[int, int | None] | None = None,
                 max_side: int = 1024, max_images: int = 64,
                 maps: list | None = None) -> dict[Any, int]:
    """{raw label value (or polygon attribute value): pixels} under the images (up to
    ``max_images`` of them, each on its grid decimated to ``max_side``): a label raster in
    another grid is reprojected onto it, polygons are burned; nodata is not counted.
    ``footprints=(class, outside)``: polygons without a class attribute burn ``class`` and
    the pixels outside them count as ``outside`` (None: not counted).

    ``maps``: a list that receives one :class:`SmallLabels` per image read (the decimated
    labels, for object sizes: :func:`object_stats`)."""
    counts: dict[Any, int] = {}
    step = max(1, len(pairs) // max_images)
    for pair in pairs[::step]:
        if not pair.ann:
            continue
        small = small_labels(pair, class_field=class_field, footprints=footprints,
                             max_side=max_side)
        n = np.bincount(small.index[small.index >= 0], minlength=len(small.values))
        for v, c in zip(small.values, n.tolist()):
            if c:
                counts[v] = counts.get(v, 0) + c
        if maps is not None:
            maps.append(small)
    return counts


@dataclass
class SmallLabels:
    """One image's labels on its grid decimated by ``factor``: ``index`` (H, W) int64 holds
    positions in ``values`` (the raw label values or polygon attribute values), -1 where
    unlabelled."""
    index: np.ndarray
    values: list
    factor: int


def small_labels(pair: Pair, *, class_field: str | None,
                 footprints: tuple[int, int | None] | None, max_side: int) -> SmallLabels:
    """The labels under ``pair.img`` read decimated to ``max_side`` (see :func:`label_counts`)."""
    from affine import Affine

    with open_raster(pair.img) as src:
        grid = scene_grid(src)
    f = decimation(grid.height, grid.width, max_side)
    small = Grid(grid.crs, grid.transform @ Affine.scale(f), -(-grid.width // f),
                 -(-grid.height // f))
    if is_vector(pair.ann) and class_field is None and footprints is not None:
        inside, outside = footprints
        burned = burn(read_vector_labels(pair.ann, class_field=None, classes_of={},
                                         dst_crs=small.crs, footprint_class=inside),
                      small, fill=255 if outside is None else outside)
        index = np.where(burned == 255, -1, burned.astype(np.int64))
        return SmallLabels(index, list(range(256)), f)
    if is_vector(pair.ann):
        if class_field is None:
            raise VectorLabelError(
                f"vector labels '{pair.ann}' need --class-field, the attribute that holds "
                f"each polygon's class (its attributes: "
                f"{', '.join(vector_fields(pair.ann)['fields'])})")
        crs = vector_fields(pair.ann)['crs']
        if grid.crs is None and crs:
            raise LabelAlignmentError(
                f"image '{pair.img}' has no CRS but its polygons '{pair.ann}' are in {crs}; "
                'georeference the image')
        values = class_values(pair.ann, class_field)
        burned = burn(read_vector_labels(pair.ann, class_field=class_field,
                                         classes_of={v: i for i, v in enumerate(values)},
                                         dst_crs=small.crs), small, fill=255)
        return SmallLabels(np.where(burned == 255, -1, burned.astype(np.int64)), values, f)
    with open_raster(pair.ann) as lab:
        check_label_grid(grid, scene_grid(lab), pair.img, pair.ann)
        if small.crs is None or lab.crs is None:
            raw = lab.read(1, out_shape=(small.height, small.width), out_dtype='float64')
        else:
            raw = read_label_raster(lab, small)
        keep = np.isfinite(raw) & (raw != lab.nodata if lab.nodata is not None else True)
    vals, inverse = np.unique(raw[keep], return_inverse=True)
    index = np.full(raw.shape, -1, np.int64)
    index[keep] = inverse.ravel()
    return SmallLabels(index, [int(v) if float(v).is_integer() else float(v)
                               for v in vals.tolist()], f)


def class_index_map(small: SmallLabels, classes: Classes, *,
                    ignore_index: int = 255) -> np.ndarray:
    """``small``'s labels as class indices (``ignore_index`` where unlabelled or a value the
    classes lack)."""
    position = {str(v): i for i, v in enumerate(classes.values)}
    lut = np.array([position.get(str(v), ignore_index) for v in small.values]
                   + [ignore_index], np.int64)
    return lut[small.index]  # -1 (unlabelled) picks the trailing ignore_index


def object_stats(maps: list[SmallLabels], classes: Classes, *,
                 background: int | None) -> dict[int, Any]:
    """Connected-object statistics per class (``altair.datasets.plan.ObjectStats``, in
    full-resolution pixels) over the decimated labels that :func:`label_counts` kept; the
    ``background`` class is not measured."""
    areas: dict[int, list] = {i: [] for i in range(len(classes.values)) if i != background}
    factors = set()
    for small in maps:
        index_map = class_index_map(small, classes)
        for c, a in component_areas(index_map, list(areas), factor=small.factor).items():
            areas[c].append(a)
        factors.add(small.factor)
    return summarise_areas({c: np.concatenate(a) if a else np.zeros(0)
                            for c, a in areas.items()}, factor=max(factors, default=1))


def infer_classes(counts: dict[Any, int], sidecar: Path | None, *,
                  ignore_index: int = 255) -> Classes:
    """Classes from the sidecar (checked against the label values) or from the values found.

    Raises:
        DataError: label values the sidecar does not list.
    """
    found = sorted((v for v in counts if v != ignore_index or isinstance(v, str)),
                   key=lambda v: (str(type(v)), v))
    if sidecar is not None:
        classes = read_sidecar(sidecar)
        listed = {str(v) for v in classes.values}
        missing = [v for v in found if str(v) not in listed]
        if missing:
            raise DataError(
                f"labels hold values {', '.join(str(v) for v in missing[:8])} that the classes "
                f"sidecar '{sidecar}' does not list ({', '.join(str(v) for v in classes.values)}); "
                'add them to it, or set those pixels to the ignore value 255')
        # sidecar values typed like the labels (JSON keys are strings)
        typed = {str(v): v for v in found}
        classes.values = [typed.get(str(v), v) for v in classes.values]
        check_class_names(classes.names, f"classes sidecar '{sidecar}'")
        return classes
    if len(found) < 2:
        raise DataError(f'the labels hold {len(found)} class value(s) ({found}); segmentation '
                        'needs at least 2 classes')
    check_class_names([str(v) for v in found], 'the label values')
    # a polygon attribute's values are names already; label raster values are numbers
    return Classes([v if isinstance(v, str) else f'class_{v}' for v in found], found)


def check_class_names(names: list[str], source: str) -> None:
    """Refuse a class name holding a line break or another control character (Unicode
    categories Cc, Zl, Zp): names go into the generated config and its comment lines, and
    such a name is a hostile file's way to end a line and start code there.

    Raises:
        DataError: naming ``source``, the name and the character.
    """
    for name in names:
        bad = next((ch for ch in str(name) if unicodedata.category(ch) in ('Cc', 'Zl', 'Zp')),
                   None)
        if bad is not None:
            raise DataError(f'class name {str(name)[:60]!r} in {source} holds {bad!r}, a line '
                            'break or control character; rename the class without it')


def label_shares(counts: dict[Any, int], classes: Classes) -> list[float]:
    total = sum(counts.get(v, 0) for v in classes.values) or 1
    return [counts.get(v, 0) / total for v in classes.values]


def check_label_values(pair: Pair, classes: Classes, *, rows: int = 1024) -> None:
    """Read the labels under the whole image, ``rows`` rows at a time, and map them through
    the classes: a value they lack raises (see ``to_classes``), where the decimated counts of
    ``label_counts`` could miss a rare one."""
    if pair.ann is None or is_vector(pair.ann):
        return
    with open_raster(pair.img) as src, open_raster(pair.ann) as lab:
        grid = scene_grid(src)
        mapping = {v: i for i, v in enumerate(classes.values)}
        for row in range(0, grid.height, rows):
            part = grid.window((0, row, grid.width, min(rows, grid.height - row)))
            to_classes(read_label_raster(lab, part), nodata=lab.nodata, classes_of=mapping,
                       source=f"labels '{pair.ann}'")
