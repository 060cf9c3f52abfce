"""Volumes written slab by slab in their source's format and geometry: a label, probability
or uncertainty volume beside the volume it was predicted from.

A NIfTI output takes its source's header: affine (sform and qform with their codes), voxel
sizes, units and extensions, with the data type and shape of what is written. A ``.npy``
source gives a ``.npy`` output. Slabs along the axis the file stores slowest (NIfTI: the
last axis; ``.npy``: the first) go straight to the file, so memory stays one slab whatever
the volume's size; slabs along another axis are gathered in a buffer of the output (one byte
a voxel for labels) and written at the end. A ``.nii.gz`` is gzipped with no time stamp or
file name in its gzip header, so the same voxels give the same bytes on every run. A label
volume of a case read through SimpleITK (NRRD, MetaImage, a DICOM series) is gathered whole
and written by :func:`~altair.raster.itk.write_itk_like` with the source's spacing, origin
and direction.
"""
from __future__ import annotations

import gzip
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from altair.fileio import commit, discard, partial_path
from altair.raster.errors import VolumeError
from altair.raster.formats import ITK_SUFFIXES, VOLUME_SUFFIXES, has_suffix
from altair.raster.itk import write_itk_like

GZIP_LEVEL = 1  # as nibabel writes .nii.gz: most of the size saving, a fraction of the time


def volume_suffix(path: str | os.PathLike) -> str:
    """``path``'s volume suffix (``'.nii.gz'``, ``'.nii'``, ``'.npy'``), lower case."""
    name = os.fspath(path).lower()
    for suffix in VOLUME_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise VolumeError(f"'{path}' has no volume suffix; use one of {', '.join(VOLUME_SUFFIXES)}")


def stored_last_axis(suffix: str) -> int:
    """The axis a file of ``suffix`` stores slowest: a slab along it is a contiguous run of
    bytes (NIfTI is Fortran-ordered, ``.npy`` C-ordered)."""
    return 0 if suffix == '.npy' else 2


def nifti_header(like: str | os.PathLike, shape: tuple[int, ...], dtype) -> object:
    """A copy of ``like``'s NIfTI header for data of ``shape`` and ``dtype``, unscaled."""
    import nibabel as nib
    header = nib.load(os.fspath(like)).header.copy()
    header.set_data_dtype(np.dtype(dtype))
    header.set_data_shape(shape)
    header.set_slope_inter(1.0, 0.0)
    header['vox_offset'] = 0  # nibabel sets the smallest offset its extensions leave
    return header


class VolumeWriter:
    """One output volume of ``shape`` (3-D, and ``components`` > 1 adds a fourth axis, one
    volume per class) written slab by slab along ``axis``.

    Args:
        path: the output, whose suffix is its format (that of ``like``).
        like: the source volume whose header (NIfTI) the output takes.
        shape: (X, Y, Z) of the source. axis: the axis slabs run along.
        dtype: the voxels' type. components: values per voxel (4-D output when > 1).

    The file appears at ``path`` only on :meth:`close` (written to a temporary beside it);
    :meth:`abort` removes what was started.
    """

    def __init__(self, path: str | os.PathLike, *, like: str | os.PathLike,
                 shape: tuple[int, int, int], axis: int, dtype, components: int = 1) -> None:
        self.path, self.like = Path(path), Path(like)
        self.suffix = volume_suffix(self.path)
        self.shape, self.axis, self.components = tuple(shape), axis, components
        self.dtype = np.dtype(dtype)
        full = self.shape + ((components,) if components > 1 else ())
        self.itk = self.like.is_dir() or has_suffix(self.like, ITK_SUFFIXES)
        if self.itk and (self.dtype != np.uint8 or components > 1):
            raise VolumeError(f"'{self.like}' is read through SimpleITK, which writes label "
                              'volumes only; probabilities and uncertainty volumes are written '
                              'for NIfTI and .npy cases (convert the case to .nii.gz)')
        if self.suffix == '.npy' or self.itk:
            self.dtype = self.dtype.newbyteorder('<') if self.dtype.itemsize > 1 else self.dtype
        else:
            self.header = nifti_header(self.like, full, self.dtype)
            self.dtype = self.header.get_data_dtype()
        self.full = full
        self.streamed = axis == stored_last_axis(self.suffix) and not self.itk
        self.next = 0
        self._tmp = partial_path(self.path, 'partial')
        discard(self._tmp)
        self._parts: list = []
        self._file = self._raw = None
        if not self.streamed:
            self._buffer = np.zeros(full, self.dtype)
        elif components > 1:  # the class axis is stored slowest: one temporary a class
            folder = self.path.parent
            self._parts = [tempfile.TemporaryFile(dir=folder) for _ in range(components)]
        self._open()

    def _open(self) -> None:
        if not self.streamed:
            return
        self._raw = open(self._tmp, 'wb')
        self._file = (gzip.GzipFile(filename='', mode='wb', fileobj=self._raw,
                                    compresslevel=GZIP_LEVEL, mtime=0)
                      if self.suffix == '.nii.gz' else self._raw)
        self._write_header(self._file)

    def _write_header(self, f) -> None:
        if self.suffix == '.npy':
            np.lib.format.write_array_header_1_0(f, dict(
                descr=np.lib.format.dtype_to_descr(self.dtype), fortran_order=False,
                shape=self.full))
        else:
            self.header.write_to(f)
            f.write(b'\0' * (int(self.header['vox_offset']) - f.tell()))

    def write(self, start: int, block: np.ndarray) -> None:
        """Put ``block`` at slices ``[start, start + s)`` along ``axis``: the source's shape
        with ``s`` along ``axis`` (and ``components`` last when > 1). Streamed outputs take
        slabs in order."""
        block = np.asarray(block)
        expected = list(self.full)
        expected[self.axis] = block.shape[self.axis] if block.ndim == len(self.full) else -1
        if list(block.shape) != expected:
            raise ValueError(f'block {block.shape} does not fit {self.full} along axis '
                             f'{self.axis}')
        stop = start + block.shape[self.axis]
        if not self.streamed:
            index = [slice(None)] * len(self.full)
            index[self.axis] = slice(start, stop)
            self._buffer[tuple(index)] = block
            return
        if start != self.next:
            raise ValueError(f'slabs of a streamed volume come in order: expected slice '
                             f'{self.next}, got {start}')
        order = 'C' if self.suffix == '.npy' else 'F'
        if self.components > 1:
            for part, values in zip(self._parts, np.moveaxis(block, -1, 0)):
                part.write(values.astype(self.dtype).tobytes(order=order))
        else:
            self._file.write(block.astype(self.dtype).tobytes(order=order))
        self.next = stop

    def close(self) -> Path:
        """Finish the file and move it to ``path``; returns ``path``."""
        try:
            if self.streamed:
                if self.next != self.shape[self.axis]:
                    raise ValueError(f'{self.path.name}: {self.next} of '
                                     f'{self.shape[self.axis]} slices written')
                for part in self._parts:
                    part.seek(0)
                    shutil.copyfileobj(part, self._file, 1 << 22)
                self._close_files()
            elif self.itk:  # SimpleITK writes the whole volume, atomically
                write_itk_like(self._buffer, self.like, self.path)
                return self.path
            else:
                self._save_buffer()
            commit(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def _save_buffer(self) -> None:
        self.streamed = True  # write the buffer through the streaming path, in one slab
        self.next, buffer = 0, self._buffer
        if self.components > 1:
            self._parts = [tempfile.TemporaryFile(dir=self.path.parent)
                           for _ in range(self.components)]
        self._open()
        axis, self.axis = self.axis, stored_last_axis(self.suffix)
        step = max(1, (1 << 26) // max(1, math.prod(self.full) // self.full[self.axis]))
        for start in range(0, self.shape[self.axis], step):
            index = [slice(None)] * len(self.full)
            index[self.axis] = slice(start, start + step)
            self.write(start, buffer[tuple(index)])
        self.axis = axis
        for part in self._parts:
            part.seek(0)
            shutil.copyfileobj(part, self._file, 1 << 22)
        self._close_files()

    def _close_files(self) -> None:
        for part in self._parts:
            part.close()
        self._parts = []
        if self._file is not None and self._file is not self._raw:
            self._file.close()
        if self._raw is not None:
            self._raw.close()
        self._file = self._raw = None

    def abort(self) -> None:
        """Remove the temporary; ``path`` is left as it was."""
        try:
            self._close_files()
        finally:
            discard(self._tmp)
