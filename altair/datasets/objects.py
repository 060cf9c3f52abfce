"""Measurements on label maps that the plan (``altair.datasets.plan``) is made from: the
sizes of connected objects of each class, and the labelled pixels of each class in each block
of a scene. Pure NumPy/SciPy on class-index maps, read decimated by ``altair init``."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import ndimage

from altair.errors import AltairError

IGNORE_INDEX = 255


class MeasureError(AltairError, ValueError):
    """Arguments a measurement cannot be made with (a connectivity other than 4 or 8, a
    decimation factor under 1, a map that is not 2-D)."""


@dataclass(frozen=True)
class ObjectStats:
    """Connected objects of one class, in full-resolution pixels.

    Attributes:
        count: number of components measured.
        median_diameter, p90_diameter: equivalent diameters ``2 sqrt(area / pi)`` (the
            diameter of the disc of the same area); None when ``count`` is 0.
        min_area: the smallest component's area; None when ``count`` is 0.
        pixel_area: the area of one measured pixel (``factor ** 2``), the resolution of
            ``min_area``.
    """
    count: int
    median_diameter: float | None
    p90_diameter: float | None
    min_area: float | None
    pixel_area: float = 1.0


def component_areas(label_map: np.ndarray, classes: Sequence[int], *, factor: int = 1,
                    connectivity: int = 8,
                    ignore_index: int = IGNORE_INDEX) -> dict[int, np.ndarray]:
    """Areas of the connected components of each class, in full-resolution pixels.

    Args:
        label_map: ``(H, W)`` class indices, read decimated by ``factor`` (every
            ``factor``-th pixel of the full-resolution map); ``ignore_index`` is unlabelled
            and belongs to no component.
        classes: the class indices to measure.
        factor: the decimation factor; a measured pixel stands for ``factor ** 2`` pixels.
        connectivity: 8 (default: pixels touching at a corner are one object, so thin
            diagonal objects, which decimation turns into corner-touching chains, stay whole)
            or 4 (edges only).

    Returns:
        ``{class: (n,) float areas}``. Components cut by the map's edge count as measured.
    """
    if connectivity not in (4, 8):
        raise MeasureError(f'connectivity {connectivity}: choose 4 or 8')
    if factor < 1:
        raise MeasureError(f'decimation factor {factor} must be >= 1')
    lm = np.asarray(label_map)
    if lm.ndim != 2:
        raise MeasureError(f'label map of shape {lm.shape}: expected (H, W)')
    structure = ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)
    out = {}
    for c in classes:
        if c == ignore_index:
            continue
        labels, n = ndimage.label(lm == c, structure=structure)
        out[int(c)] = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(float) * factor ** 2
    return out


def summarise_areas(areas: Mapping[int, Sequence[float]], *,
                    factor: int = 1) -> dict[int, ObjectStats]:
    """:class:`ObjectStats` per class from full-resolution component areas (e.g. those of
    :func:`component_areas` over several images, concatenated)."""
    out = {}
    for c, a in areas.items():
        a = np.asarray(a, dtype=float)
        if a.size == 0:
            out[c] = ObjectStats(0, None, None, None, float(factor ** 2))
            continue
        d = 2 * np.sqrt(a / math.pi)
        out[c] = ObjectStats(int(a.size), float(np.median(d)), float(np.percentile(d, 90)),
                             float(a.min()), float(factor ** 2))
    return out


def object_sizes(label_map: np.ndarray, classes: Sequence[int], *, factor: int = 1,
                 connectivity: int = 8,
                 ignore_index: int = IGNORE_INDEX) -> dict[int, ObjectStats]:
    """Per-class connected-object statistics of one (decimated) label map, in
    full-resolution pixels; see :func:`component_areas` for the arguments."""
    return summarise_areas(component_areas(label_map, classes, factor=factor,
                                           connectivity=connectivity,
                                           ignore_index=ignore_index), factor=factor)


def block_class_counts(index_map: np.ndarray, *, block: int, factor: int,
                       num_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """``(block rows, block cols, num_classes)`` labelled pixels of each class in each
    ``block``-pixel block of a scene, from its class-index map read decimated by ``factor``
    (pixel ``(i, j)`` of the map is pixel ``(i * factor, j * factor)`` of the scene)."""
    if block < 1 or factor < 1:
        raise MeasureError(f'block {block} and factor {factor} must be >= 1')
    h, w = index_map.shape
    rows = (np.arange(h) * factor) // block
    cols = (np.arange(w) * factor) // block
    shape = (-(-h * factor // block), -(-w * factor // block))
    keep = index_map != ignore_index
    flat = (rows[:, None] * shape[1] + cols[None, :])[keep] * num_classes + index_map[keep]
    return np.bincount(flat.astype(np.int64), minlength=shape[0] * shape[1] * num_classes
                       ).reshape(shape[0], shape[1], num_classes)
