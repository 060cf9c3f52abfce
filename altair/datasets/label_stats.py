"""The classes of a data folder and what its labels hold: ``classes.json``, the label values
(or polygon attribute values) counted on a decimated read, the class shares and object sizes
the plan is made from. Pure reading; the layout is ``altair.datasets.inspect``."""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from altair.datasets.inspect import Pair
from altair.datasets.objects import component_areas, summarise_areas
from altair.datasets.scenes.sampling import decimation
from altair.errors import DataError
from altair.raster.errors import LabelAlignmentError
from altair.raster.grid import Grid, check_label_grid, read_label_raster, scene_grid
from altair.raster.labels import to_classes
from altair.raster.read import open_raster
from altair.raster.vector import (VectorLabelError, burn, class_values, is_vector,
                                  read_vector_labels, vector_fields)


class ClassesSidecarError(DataError):
    """A ``classes.json`` that cannot be read as classes."""


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
