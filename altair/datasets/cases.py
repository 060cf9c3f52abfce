"""One case of a volume dataset: its image as one 3-D file per channel (T1, T2, FLAIR, ...,
all of one shape), opened lazily, each channel normalised on its own, and its label volume
checked to lie on the image's grid. Training (``VolumeSliceDataset``) and volume prediction
share these pieces, so a case is read and scaled alike in both."""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from altair.raster.errors import VolumeError
from altair.raster.volume import open_volume, percentiles

NORMALIZE_MODES = ('percentile', 'window')
# voxel-to-world affines agree when every entry is within this (mm; NIfTI stores float32)
AFFINE_TOLERANCE = 1e-3


def case_files(img: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The channel files of a case's image: ``[img]`` for one path, the list for a list of
    channel paths (in channel order)."""
    if isinstance(img, (str, os.PathLike)):
        return [str(img)]
    files = [str(p) for p in img]
    if not files:
        raise VolumeError('an image volume given as a list of channel files needs at least '
                          'one file')
    return files


def open_case(img: str | os.PathLike | Sequence[str | os.PathLike], *,
              role: str = 'image volume') -> list:
    """One lazy 3-D array per channel (:func:`~altair.raster.volume.open_volume`), in
    channel order.

    Raises:
        VolumeError: a channel whose shape differs from the first channel's (both files and
            shapes named), or any error of ``open_volume``.
        DataNotFoundError: a channel file that does not exist.
    """
    files = case_files(img)
    arrays = [open_volume(f, role=role) for f in files]
    first = tuple(int(d) for d in arrays[0].shape)
    for f, arr in zip(files[1:], arrays[1:]):
        shape = tuple(int(d) for d in arr.shape)
        if shape != first:
            raise VolumeError(f"{role} channel '{f}' has shape {shape} but channel "
                              f"'{files[0]}' of the same case has shape {first}; give every "
                              'channel of a case the same grid, voxel for voxel')
    return arrays


def check_normalize(normalize: dict | Sequence[dict | None] | None, *,
                    owner: str = 'VolumeSliceDataset') -> dict | list | None:
    """``normalize`` checked and copied: None, one dict for every channel, or a list with
    one entry (None or a dict) per channel.

    Raises:
        VolumeError: an unknown mode, percentiles outside 0 <= lower < upper <= 100, a
            window width <= 0, or an empty list.
    """
    if isinstance(normalize, (list, tuple)):
        if not normalize:
            raise VolumeError(f'{owner} normalize []: give one entry per channel (None or a '
                              'dict), or one dict for every channel')
        return [check_normalize(n, owner=owner) for n in normalize]
    if normalize is None:
        return None
    mode = normalize.get('mode') if isinstance(normalize, dict) else normalize
    if mode not in NORMALIZE_MODES:
        raise VolumeError(f"{owner} normalize mode {mode!r}: choose "
                          "dict(mode='percentile', lower=0.5, upper=99.5), "
                          "dict(mode='window', center=40, width=400) or normalize=None")
    if mode == 'percentile' and not (0 <= normalize.get('lower', 0.5)
                                     < normalize.get('upper', 99.5) <= 100):
        raise VolumeError(f'{owner} normalize {normalize}: need 0 <= lower < '
                          'upper <= 100 (percentiles)')
    if mode == 'window' and not normalize.get('width', 400) > 0:
        raise VolumeError(f'{owner} normalize {normalize}: the window width must be > 0')
    return dict(normalize)


def norm_range(arr: Any, normalize: dict | None) -> tuple[float, float] | None:
    """``(lo, hi)`` the image is clipped to and scaled from, or None (raw values)."""
    if normalize is None:
        return None
    if normalize['mode'] == 'percentile':
        return percentiles(arr, float(normalize.get('lower', 0.5)),
                           float(normalize.get('upper', 99.5)))
    center, width = float(normalize.get('center', 40)), float(normalize.get('width', 400))
    return center - width / 2, center + width / 2


def normalise(values: np.ndarray, norm: tuple[float, float] | None) -> np.ndarray:
    """``values`` as the model sees them, float32: ``(clip(x, lo, hi) - lo) / (hi - lo)`` in
    [0, 1] for ``norm = (lo, hi)`` (all zeros if ``hi <= lo``), the raw values for None.
    Training (``LoadVolumeSlice``) and volume prediction both read through here."""
    if norm is None:
        return values.astype(np.float32)
    lo, hi = float(norm[0]), float(norm[1])
    if not hi > lo:
        return np.zeros(values.shape, np.float32)
    # float64 on the way, so the result stays inside [0, 1] after rounding
    return ((np.clip(values.astype(np.float64), lo, hi) - lo) / (hi - lo)).astype(np.float32)


def case_norms(arrays: Sequence[Any],
               normalize: dict | Sequence[dict | None] | None) -> list[tuple[float, float] | None]:
    """One :func:`norm_range` per channel of a case (``arrays`` from :func:`open_case`):
    ``normalize`` None (raw values), one dict for every channel, or a list of per-channel
    entries (None or a dict) as long as ``arrays``.

    Raises:
        VolumeError: a list whose length is not the number of channels.
    """
    if isinstance(normalize, (list, tuple)):
        if len(normalize) != len(arrays):
            raise VolumeError(f'normalize lists {len(normalize)} entries but the case has '
                              f'{len(arrays)} channel(s); give one entry (None or a dict) '
                              'per channel, or one dict for every channel')
        return [norm_range(a, n) for a, n in zip(arrays, normalize)]
    return [norm_range(a, normalize) for a in arrays]


def context_indices(k: int, depth: int, context: int) -> list[int]:
    """The slices ``k - context .. k + context`` along an axis of ``depth`` slices, in order,
    an index past either end replaced by the edge slice (2.5-D context)."""
    return [min(max(j, 0), depth - 1) for j in range(k - context, k + context + 1)]


def volume_affine(path: str) -> np.ndarray | None:
    """(4, 4) voxel-to-world affine of a NIfTI file (its header only is read), None for a
    ``.npy`` volume (no geometry)."""
    if str(path).lower().endswith('.npy'):
        return None
    import nibabel as nib
    return np.asarray(nib.load(str(path)).affine, np.float64)


def check_label_volume(img: str, ann: str, *, shape: tuple[int, ...]) -> None:
    """Refuse a label volume ``ann`` whose shape is not ``shape`` (its image's) or, for
    NIfTI, whose affine differs from its image's ``img`` (the first channel's file) by more
    than ``AFFINE_TOLERANCE`` in any entry.

    Raises:
        VolumeError: one line naming both files and the differing shapes or affines.
    """
    lab_shape = tuple(int(d) for d in open_volume(ann, role='label volume').shape)
    if lab_shape != tuple(shape):
        raise VolumeError(f"label volume '{ann}' has shape {lab_shape} but its image "
                          f"'{img}' has shape {tuple(shape)}; give each image the label "
                          'volume of the same grid, voxel for voxel')
    a, b = volume_affine(ann), volume_affine(img)
    if a is not None and b is not None and not np.allclose(a, b, rtol=0,
                                                           atol=AFFINE_TOLERANCE):
        raise VolumeError(f"label volume '{ann}' has affine {_affine_text(a)} but its image "
                          f"'{img}' has {_affine_text(b)}; give each image the label volume "
                          'of the same grid (resample the labels onto the image)')


def _affine_text(affine: np.ndarray) -> str:
    return str(np.round(affine[:3], 4).tolist())
