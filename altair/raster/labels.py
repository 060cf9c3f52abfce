"""Raw label values to class indices (pure)."""
from __future__ import annotations

import numpy as np

from altair.raster.errors import LabelValueError


def to_classes(raw: np.ndarray, *, nodata: float | None, ignore_index: int = 255,
               classes_of: dict[int, int] | None = None, source: str = 'labels') -> np.ndarray:
    """Raw label values (float, NaN = outside the labels) to (H, W) uint8 class indices.

    Values map to themselves, or through ``classes_of`` ({raw value: class index}); NaN, the
    label's ``nodata`` and ``ignore_index`` itself (unless ``classes_of`` maps it) become
    ``ignore_index``.

    Raises:
        LabelValueError: values that are not whole numbers, outside 0-255 without a mapping,
            or missing from ``classes_of``.
    """
    bad = ~np.isfinite(raw)
    if nodata is not None and np.isfinite(nodata):
        bad |= raw == nodata
    if classes_of is not None and ignore_index not in classes_of:
        bad |= raw == ignore_index  # mmseg's convention: 255 = not labelled
    vals = raw[~bad]
    out = np.full(raw.shape, ignore_index, np.uint8)
    if not vals.size:
        return out
    if (vals != np.round(vals)).any():
        raise LabelValueError(f"{source} hold non-integer values (e.g. {vals[vals != np.round(vals)][0]:g}); "
                              'labels must be class values')
    ints = vals.astype(np.int64)
    if classes_of is None:
        if ints.min() < 0 or ints.max() > 255:
            raise LabelValueError(
                f'{source} hold value {int(ints.min() if ints.min() < 0 else ints.max())}; '
                'class indices are 0-254 (255 = ignore): map the values to classes with a '
                'classes.json sidecar')
        out[~bad] = ints
        return out
    keys = np.array(sorted(classes_of), np.int64)
    pos = np.clip(np.searchsorted(keys, ints), 0, len(keys) - 1)
    unknown = keys[pos] != ints
    if unknown.any():
        missing = ', '.join(str(v) for v in np.unique(ints[unknown])[:8])
        raise LabelValueError(f'{source} hold values {missing} that the classes do not list '
                              f'({", ".join(str(k) for k in keys)}); add them to the classes '
                              'sidecar (classes.json) or set them to the nodata value')
    values = np.array([classes_of[k] for k in keys.tolist()], np.uint8)
    out[~bad] = values[pos]
    return out
