"""Volumes read lazily, one slice or slab at a time: NIfTI through nibabel's ``ArrayProxy``
(``.nii`` / ``.nii.gz``), NumPy ``.npy`` memory-mapped; NRRD, MetaImage and DICOM series
folders read whole through SimpleITK (:mod:`altair.raster.itk`, the ``[medical]`` extra).
Every array is (x, y, z), in voxel order as nibabel gives it. Every read error is one
:class:`~altair.raster.errors.VolumeError` line naming the file."""
from __future__ import annotations

import math
import os
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any

import numpy as np

from altair.errors import DataNotFoundError, first_line
from altair.raster.errors import VolumeError
from altair.raster.formats import ITK_SUFFIXES, VOLUME_SUFFIXES, has_suffix
from altair.raster.itk import affine_to_geometry, read_itk, read_itk_geometry

_CACHE_SIZE = 8
_PERCENTILE_SAMPLE = 2_000_000   # voxels read to estimate a volume's percentiles
_CHUNK_VOXELS = 16_000_000       # voxels read at once when scanning a whole volume
_volumes: OrderedDict[tuple[int, str], Any] = OrderedDict()


def volume_stem(path: str) -> str:
    """The file name without its volume suffix (:data:`VOLUME_SUFFIXES`): ``'ct_01.nii.gz'``
    -> ``'ct_01'``, ``'ct_01.nhdr'`` -> ``'ct_01'``; a folder (a DICOM series) is its name:
    ``'scans/ct_01/'`` -> ``'ct_01'``."""
    if os.path.isdir(path):
        return os.path.basename(os.path.normpath(path))
    name = os.path.basename(path)
    for suffix in VOLUME_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    raise VolumeError(f"volume '{path}' has an unknown suffix; use one of "
                      f"{', '.join(VOLUME_SUFFIXES)}, or a folder holding one DICOM series")


def open_volume(path: str, *, role: str = 'volume') -> Any:
    """The 3-D array of ``path``, unread: a read-only ``np.memmap`` (``.npy``, unscaled
    ``.nii``) or a nibabel ``ArrayProxy`` (``.nii.gz``, scaled ``.nii``: values are scaled by
    the header's slope/intercept on reading). A ``.nii.gz`` is decompressed up to the slice
    on every read (unless indexed_gzip is installed): store big volumes as ``.nii`` or
    ``.npy`` for fast training. Either supports ``arr[index]``, ``.shape`` and ``.dtype``.
    NRRD / MetaImage files (:data:`ITK_SUFFIXES`) and a DICOM series folder are read whole
    by :func:`~altair.raster.itk.read_itk` into a read-only array. Shape (X, Y, Z) in voxel
    order, whatever the format.

    Raises:
        VolumeError: an unknown suffix, an array that is not 3-D, a file that cannot be read
            (SimpleITK missing for the formats that need it).
        DataNotFoundError: ``path`` does not exist.
    """
    if os.path.isdir(path):
        return _read_whole(path, role)
    volume_stem(path)  # checks the suffix
    if not os.path.isfile(path):
        raise DataNotFoundError(f"{role} '{path}' does not exist; fix the path or drop the "
                                'volume from the list')
    if has_suffix(path, ITK_SUFFIXES):
        return _read_whole(path, role)
    with _read_errors(path, role):
        if path.lower().endswith('.npy'):
            arr = np.load(path, mmap_mode='r')
        else:
            import nibabel as nib
            # keep_file_open: one handle per process (the cache is keyed by pid), so a .nii.gz
            # is not reopened for every slice (and is seekable when indexed_gzip is installed).
            img = nib.load(path, mmap=True, keep_file_open=True)
            arr = img.dataobj
            if not path.lower().endswith('.gz'):
                _check_nifti_size(path, arr, role)
                if arr.slope == 1 and arr.inter == 0:
                    # unscaled .nii: asanyarray memory-maps the file, and a slice across the
                    # Fortran order costs a strided copy instead of thousands of small reads
                    whole = np.asanyarray(arr)
                    arr = whole if isinstance(whole, np.memmap) else arr
            else:  # a .nii.gz is only found cut short when the cut is read
                arr = _Guarded(arr, path, role)
    if len(arr.shape) != 3:
        raise VolumeError(f"{role} '{path}' has shape {tuple(arr.shape)}; a 3-D volume is "
                          'expected (save one 3-D array per file, one file per channel)')
    return arr


def _read_whole(path: str, role: str) -> np.ndarray:
    """A SimpleITK volume (file or DICOM folder), read whole, as a read-only array."""
    arr = read_itk(path, role=role)[0]
    arr.flags.writeable = False  # shared through cached_volume, like the memmaps
    return arr


def volume_geometry(path: str, *, role: str = 'volume') -> dict:
    """The geometry of any volume :func:`open_volume` reads, in ITK's convention (LPS, mm;
    see :mod:`altair.raster.itk`): ``dict(spacing=(sx, sy, sz), origin=(ox, oy, oz),
    direction=(9 floats, row by row; column j is voxel axis j))``. A NIfTI's comes from
    nibabel's affine (RAS, converted: a NIfTI and its SimpleITK conversion give the same);
    an ``.npy`` has none: unit spacing, zero origin, identity direction.

    Raises:
        VolumeError, DataNotFoundError: as :func:`open_volume`.
    """
    if not os.path.isdir(path):
        volume_stem(path)  # checks the suffix
        if not os.path.isfile(path):
            raise DataNotFoundError(f"{role} '{path}' does not exist; fix the path")
    if os.path.isdir(path) or has_suffix(path, ITK_SUFFIXES):
        return read_itk_geometry(path, role=role)
    if has_suffix(path, ('.npy',)):
        return dict(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                    direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    with _read_errors(path, role):
        import nibabel as nib
        return affine_to_geometry(nib.load(path).affine)


# what reading a cut or corrupt volume raises: nibabel's ImageFileError (not its header),
# OSError ('Expected N bytes'; gzip.BadGzipFile), EOFError and zlib.error (a .nii.gz cut
# short), ValueError (a .npy shorter than its header says)
def _read_failures() -> tuple:
    import zlib

    from nibabel.filebasedimages import ImageFileError
    return (OSError, EOFError, ValueError, zlib.error, ImageFileError)


@contextmanager
def _read_errors(path: str, role: str):
    """A volume that fails to open or read as one :class:`VolumeError` line naming it."""
    try:
        yield
    except VolumeError:
        raise
    except _read_failures() as exc:
        reason = first_line(exc, 200)
        raise VolumeError(f"cannot read {role} '{path}': {reason}; the file may be truncated "
                          'or corrupt (copy it again)') from None


def _check_nifti_size(path: str, proxy: Any, role: str) -> None:
    """Refuse a ``.nii`` shorter than its data offset + voxels x bytes per voxel (from the
    header, as nibabel's ``ArrayProxy`` holds them)."""
    need = int(proxy.offset) + math.prod(int(d) for d in proxy.shape) * proxy.dtype.itemsize
    size = os.path.getsize(path)
    if size < need:
        raise VolumeError(f"{role} '{path}' is truncated: the file has {size} of the {need} "
                          'bytes its header gives (a copy or download cut short?); copy it '
                          'again')


class _Guarded:
    """A nibabel ``ArrayProxy`` whose reads fail as :class:`VolumeError` (a ``.nii.gz``
    cut short opens, and fails when the cut is reached); otherwise the proxy itself."""

    def __init__(self, proxy: Any, path: str, role: str) -> None:
        self._proxy, self._path, self._role = proxy, path, role

    @property
    def shape(self) -> tuple:
        return self._proxy.shape

    @property
    def ndim(self) -> int:
        return len(self._proxy.shape)

    @property
    def dtype(self):
        return self._proxy.dtype

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_'):  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self._proxy, name)

    def __getitem__(self, index) -> np.ndarray:
        with _read_errors(self._path, self._role):
            return self._proxy[index]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        with _read_errors(self._path, self._role):
            return np.asarray(self._proxy, dtype=dtype)


def cached_volume(path: str) -> Any:
    """:func:`open_volume`, reused in this process (an LRU keyed by ``(pid, path)``, so a
    handle opened before a dataloader fork is never shared between workers)."""
    key = (os.getpid(), str(path))
    if key in _volumes:
        _volumes.move_to_end(key)
        return _volumes[key]
    arr = _volumes[key] = open_volume(str(path))
    while len(_volumes) > _CACHE_SIZE:
        _volumes.popitem(last=False)
    return arr


def read_slice(arr: Any, axis: int, k: int) -> np.ndarray:
    """``np.take(arr, k, axis)`` of a lazy volume, reading only that slice. Shape (H, W):
    the two remaining axes in stored order."""
    index = [slice(None)] * 3
    index[axis] = k
    return np.asanyarray(arr[tuple(index)])


def storage_axis(arr: Any) -> int:
    """The axis whose slabs are contiguous on disk (NIfTI is Fortran-ordered)."""
    order = getattr(arr, 'order', None)
    if order is None:
        order = 'F' if arr.flags.f_contiguous and not arr.flags.c_contiguous else 'C'
    return 2 if order == 'F' else 0


def chunks(arr: Any, step: int = 1, budget: int = _CHUNK_VOXELS):
    """Yield ``(storage_axis, positions, block)``: the volume read in slabs along its
    storage axis (``positions`` the slab indices), every ``step``-th voxel along each axis
    (``step=1``: all of it), at most ~``budget`` voxels at a time."""
    a = storage_axis(arr)
    n = arr.shape[a]
    per_slab = math.prod(-(-d // step) for i, d in enumerate(arr.shape) if i != a)
    slabs = max(1, budget // max(1, per_slab))
    for start in range(0, n, slabs * step):
        stop = min(n, start + slabs * step)
        index = [slice(None, None, step)] * 3
        index[a] = slice(start, stop, step)
        yield a, range(start, stop, step), np.asanyarray(arr[tuple(index)])


def percentiles(arr: Any, lower: float, upper: float, *,
                max_voxels: int = _PERCENTILE_SAMPLE) -> tuple[float, float]:
    """The ``lower`` and ``upper`` percentiles (0..100) of a volume's finite values,
    estimated on a regular strided sample of at most ``max_voxels`` voxels (exact when
    the volume is smaller), read slab by slab."""
    step = max(1, int(math.floor((math.prod(arr.shape) / max_voxels) ** (1 / 3))))
    while math.prod(-(-d // step) for d in arr.shape) > max_voxels:
        step += 1
    parts = [b.astype(np.float64, copy=False).ravel() for _, _, b in chunks(arr, step)]
    sample = np.concatenate(parts)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 0.0
    lo, hi = np.percentile(sample, [lower, upper])
    return float(lo), float(hi)
