"""Medical volumes through SimpleITK, the ``altair-seg[medical]`` extra: NRRD (``.nrrd``,
``.nhdr``), MetaImage (``.mha``, ``.mhd``) and a folder holding one DICOM series; and label
volumes written with a reference volume's geometry.

Arrays are (x, y, z): indexed ``arr[i, j, k]`` in voxel order, as nibabel gives a NIfTI
(SimpleITK's own arrays are (z, y, x) and are transposed here), so a volume converted between
NIfTI and these formats gives the same array.

Geometry is ITK's, in millimetres in the LPS patient frame (+x towards the patient's left,
+y posterior, +z superior): ``dict(spacing=(sx, sy, sz), origin=(ox, oy, oz),
direction=(9 floats))``, ``direction`` the 3x3 matrix row by row whose column ``j`` is the
unit vector of voxel axis ``j``; the physical point of voxel ``(i, j, k)`` is
``origin + direction @ (spacing * (i, j, k))``. NIfTI affines are RAS and are converted
(:func:`affine_to_geometry`).

SimpleITK is imported only when one of these files is read or written; without it each
entry point raises one :class:`~altair.raster.errors.VolumeError` line saying how to install
it.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from altair.fileio import commit, ensure_writable_dir
from altair.raster.errors import VolumeError
from altair.raster.formats import ITK_SUFFIXES, has_suffix

# the formats write_itk_like writes: those Altair reads back (NIfTI through nibabel)
WRITE_SUFFIXES = ('.nii.gz', '.nii') + ITK_SUFFIXES
_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0])
_MAX_UIDS_SHOWN = 3
# SimpleITK's messages start with 'Exception thrown in SimpleITK <call>: <source file>:<line>:'
# and prefix the reason with the ImageIO's class and address
_ITK_PREFIX = re.compile(r'^(ITK ERROR: \w+\(0x[0-9a-fA-F]+\):|sitk::ERROR:)\s*')


def _kind(path: str | os.PathLike) -> str:
    """What ``path`` is, for messages: ``'.nrrd'``, ``'a DICOM folder'``."""
    if os.path.isdir(path):
        return 'a DICOM folder'
    name = os.fspath(path).lower()
    return next((s for s in WRITE_SUFFIXES if name.endswith(s)), os.path.splitext(name)[1])


def _simpleitk(path: str | os.PathLike, role: str, verb: str = 'reading') -> Any:
    """The ``SimpleITK`` module, or a VolumeError saying how to install it."""
    try:
        import SimpleITK
    except ImportError:
        raise VolumeError(f"{verb} {_kind(path)} ({role} '{path}') needs SimpleITK: pip install "
                          "'altair-seg[medical]'") from None
    return SimpleITK


def itk_reason(exc: BaseException, limit: int = 200) -> str:
    """The first informative line of a SimpleITK error (not the line naming SimpleITK's own
    source file), without the ImageIO's address, at most ``limit`` characters."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith('Exception thrown in SimpleITK')]
    line = (useful or lines or [type(exc).__name__])[0]
    return _ITK_PREFIX.sub('', line)[:limit]


@contextmanager
def _itk_errors(path: str | os.PathLike, role: str, verb: str = 'read'):
    """SimpleITK's RuntimeError as one :class:`VolumeError` line naming ``path``."""
    try:
        yield
    except RuntimeError as exc:
        hint = ('the file may be truncated or corrupt (copy it again)' if verb == 'read'
                else 'check the folder and the file name')
        raise VolumeError(f"cannot {verb} {role} '{path}': {itk_reason(exc)}; {hint}") from None


def _check_3d(size: tuple, components: int, path: str | os.PathLike, role: str) -> None:
    if len(size) != 3 or components != 1:
        raise VolumeError(f"{role} '{path}' has shape {tuple(int(d) for d in size)} / "
                          f'{components} component(s); a 3-D scalar volume is expected (save '
                          'one 3-D single-channel volume per file)')


def _geometry(image: Any) -> dict:
    """Spacing, origin and direction of a SimpleITK image or image reader."""
    return dict(spacing=tuple(float(v) for v in image.GetSpacing()),
                origin=tuple(float(v) for v in image.GetOrigin()),
                direction=tuple(float(v) for v in image.GetDirection()))


def _read_series(sitk: Any, folder: str | os.PathLike, role: str) -> Any:
    """The one DICOM series in ``folder``, read whole (slices sorted by GDCM by position)."""
    ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(os.fspath(folder))
    if not ids:
        raise VolumeError(f"{role} folder '{folder}' holds no DICOM series; give a folder of "
                          'the DICOM files of one series, or a volume file '
                          f"({', '.join(WRITE_SUFFIXES)})")
    if len(ids) > 1:
        shown = ', '.join(ids[:_MAX_UIDS_SHOWN])
        shown += ', ...' if len(ids) > _MAX_UIDS_SHOWN else ''
        raise VolumeError(f"{role} '{folder}' holds {len(ids)} DICOM series ({shown}); put each "
                          'series in its own folder')
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(os.fspath(folder), ids[0]))
    return reader.Execute()


def _file_reader(sitk: Any, path: str | os.PathLike, role: str) -> Any:
    """An ``ImageFileReader`` of ``path`` with its header read and checked to be 3-D scalar."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(os.fspath(path))
    reader.ReadImageInformation()
    _check_3d(reader.GetSize(), reader.GetNumberOfComponents(), path, role)
    return reader


def read_itk(path: str | os.PathLike, *, role: str = 'volume') -> tuple[np.ndarray, dict]:
    """Read a NRRD / MetaImage file or a DICOM series folder whole.

    SimpleITK reads the whole image at once (no lazy or slice-wise reading for these
    formats, unlike NIfTI and ``.npy``): a volume costs its full size in memory.

    Args:
        path: a ``.nrrd``, ``.nhdr``, ``.mha`` or ``.mhd`` file (any file SimpleITK reads), or
            a folder holding the DICOM files of one series.
        role: what the volume is, for messages (``'image volume'``, ``'label volume'``).

    Returns:
        ``(array, geometry)``: the voxels, shape (X, Y, Z) in voxel order ``(i, j, k)`` (the
        axis order nibabel gives a NIfTI), in the file's dtype; and the geometry dict of the
        module docstring (LPS, mm).

    Raises:
        VolumeError: SimpleITK is not installed; a folder with no or several DICOM series;
            an image that is not 3-D scalar (4-D, 2-D or vector pixels); a file SimpleITK
            cannot read (truncated, corrupt, not an image).
    """
    sitk = _simpleitk(path, role)
    with _itk_errors(path, role):
        if os.path.isdir(path):
            image = _read_series(sitk, path, role)
        else:
            image = _file_reader(sitk, path, role).Execute()
        _check_3d(image.GetSize(), image.GetNumberOfComponentsPerPixel(), path, role)
        arr = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    return arr, _geometry(image)


def _info(path: str | os.PathLike, role: str) -> tuple[tuple[int, ...], dict]:
    """``(size (X, Y, Z), geometry)`` of an image SimpleITK reads; only the header of a file,
    the whole series of a DICOM folder (its slice spacing comes from the slice positions)."""
    sitk = _simpleitk(path, role)
    with _itk_errors(path, role):
        if os.path.isdir(path):
            image = _read_series(sitk, path, role)
            _check_3d(image.GetSize(), image.GetNumberOfComponentsPerPixel(), path, role)
        else:
            image = _file_reader(sitk, path, role)
        return tuple(int(d) for d in image.GetSize()), _geometry(image)


def read_itk_geometry(path: str | os.PathLike, *, role: str = 'volume') -> dict:
    """The geometry (module docstring: LPS, mm) of any image SimpleITK reads, NIfTI included
    (ITK's reading of its qform/sform); a file's header only, a DICOM folder read whole.

    Raises:
        VolumeError: as :func:`read_itk`.
    """
    return _info(path, role)[1]


def affine_to_geometry(affine: Any) -> dict:
    """A NIfTI affine (4x4, voxel -> RAS mm, as nibabel's ``img.affine``) as ITK geometry
    (LPS): x and y change sign; spacing = the column norms of the 3x3, direction = its
    columns normalised, origin = the translation."""
    affine = np.asarray(affine, dtype=np.float64)
    matrix = _LPS_FROM_RAS @ affine[:3, :3]
    spacing = np.linalg.norm(matrix, axis=0)
    direction = matrix / np.where(spacing > 0, spacing, 1.0)
    origin = _LPS_FROM_RAS @ affine[:3, 3]
    return dict(spacing=tuple(float(v) for v in spacing), origin=tuple(float(v) for v in origin),
                direction=tuple(float(v) for v in direction.ravel()))


def _label_array(labels: Any, out: Path) -> np.ndarray:
    """``labels`` as a 3-D uint8 array (integer or boolean values 0..255)."""
    arr = np.asarray(labels)
    if arr.ndim != 3:
        raise VolumeError(f"labels for '{out}' have shape {arr.shape}; a 3-D (x, y, z) array "
                          'is expected')
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind not in 'biu' or (arr.size and (arr.min() < 0 or arr.max() > 255)):
        raise VolumeError(f"labels for '{out}' are {arr.dtype} (values "
                          f"{arr.min() if arr.size else '-'}..{arr.max() if arr.size else '-'}); "
                          'uint8 class indices 0..255 are expected')
    return arr.astype(np.uint8)


def write_itk_like(labels: Any, reference: str | os.PathLike | Mapping,
                   out_path: str | os.PathLike) -> Path:
    """Write a label volume with a reference volume's geometry, atomically.

    Args:
        labels: shape (X, Y, Z), voxel order ``(i, j, k)`` (as :func:`read_itk` and nibabel
            give arrays), uint8 or integer values 0..255.
        reference: a volume file or DICOM folder (its geometry read by SimpleITK, and its
            size checked against ``labels``), or a geometry dict (module docstring).
        out_path: the output; its suffix names the format (``.nii.gz``, ``.nii``, ``.nrrd``,
            ``.nhdr``, ``.mha``, ``.mhd``), written compressed where the format allows.

    Returns:
        ``out_path``, written atomically (:func:`altair.fileio.commit` of a finished
        temporary). A detached header (``.nhdr``, ``.mhd``) and its data file are both
        written beside it; each is renamed into place, the data file first.

    Raises:
        VolumeError: SimpleITK is not installed; labels that are not 3-D uint8 values; a
            shape other than the reference's; an unknown output suffix; a failed write.
    """
    out = Path(out_path)
    if not has_suffix(out, WRITE_SUFFIXES):
        raise VolumeError(f"label volume '{out}' has an unknown suffix; use one of "
                          f"{', '.join(WRITE_SUFFIXES)}")
    sitk = _simpleitk(out, 'label volume', 'writing')
    arr = _label_array(labels, out)
    if isinstance(reference, Mapping):
        geometry = reference
    else:
        size, geometry = _info(reference, 'reference volume')
        if size != arr.shape:
            raise VolumeError(f"labels for '{out}' have shape {arr.shape} but the reference "
                              f"'{reference}' has {size}; give labels of the reference's shape")
    image = sitk.GetImageFromArray(np.ascontiguousarray(arr.transpose(2, 1, 0)))
    with _itk_errors(out, 'label volume', 'write'):
        image.SetSpacing([float(v) for v in geometry['spacing']])
        image.SetOrigin([float(v) for v in geometry['origin']])
        image.SetDirection([float(v) for v in geometry['direction']])
    folder = ensure_writable_dir(out.parent)
    # the temporaries are staged under their final names in a hidden folder beside out_path
    # (removed with whatever is left in it): SimpleITK picks the writer from the name, and a
    # detached header names its data file; then each is renamed into place, header last
    with tempfile.TemporaryDirectory(prefix=f'.{out.name}.', dir=folder) as staging:
        with _itk_errors(out, 'label volume', 'write'):
            sitk.WriteImage(image, os.path.join(staging, out.name), useCompression=True)
        for part in sorted(Path(staging).iterdir(), key=lambda p: p.name == out.name):
            commit(part, folder / part.name)
    return out
