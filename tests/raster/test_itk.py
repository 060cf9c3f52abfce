"""NRRD / MetaImage / DICOM volumes through SimpleITK, on the real MNI ICBM152 T1: every
format reads to the array nibabel gives the NIfTI (same axis order) with the same geometry;
label volumes written with a reference's geometry read back unchanged."""
from __future__ import annotations

import locale
import os
import sys

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from altair.datasets.sample_data import mni_template
from altair.errors import DataError
from altair.raster.errors import VolumeError
from altair.raster.formats import ITK_SUFFIXES, VOLUME_SUFFIXES
from altair.raster.itk import affine_to_geometry, itk_reason, read_itk, write_itk_like
from altair.raster.volume import (cached_volume, open_volume, read_slice, volume_geometry,
                                  volume_stem)

ITK_FORMATS = ('.nrrd', '.nhdr', '.mha', '.mhd')
STUDY = '1.2.826.0.1.3680043.2.1125.7.1'


@pytest.fixture(scope='module')
def t1():
    """The MNI T1 path and its voxels as nibabel gives them, (197, 233, 189)."""
    path = str(mni_template()[0])
    return path, np.asanyarray(nib.load(path).dataobj)


def itk_image(path: str):
    """``path`` read by SimpleITK, without the NIfTI header fields it carries along (which
    MetaImage cannot store and would warn about)."""
    image = sitk.ReadImage(path)
    for key in image.GetMetaDataKeys():
        image.EraseMetaData(key)
    return image


def convert(src: str, dst) -> str:
    sitk.WriteImage(itk_image(src), str(dst))
    return str(dst)


def rotated_nifti(voxels: np.ndarray, path) -> tuple[str, np.ndarray]:
    """The T1 voxels with an oblique, anisotropic affine (rotation about z, 0.8 x 1.2 x 2.5 mm)."""
    th = 0.3
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([0.8, 1.2, 2.5])
    affine[:3, 3] = [-10.5, 20.25, 33.0]
    nib.save(nib.Nifti1Image(voxels, affine), path)
    return str(path), nib.load(path).affine


def assert_geometry(got: dict, want: dict, atol: float = 0.0) -> None:
    assert set(got) == {'spacing', 'origin', 'direction'}
    for key in want:
        assert len(got[key]) == len(want[key]) == (9 if key == 'direction' else 3)
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize('suffix', ITK_FORMATS)
def test_itk_formats_read_as_nibabel_reads_the_nifti(t1, tmp_path, suffix):
    path, want = t1
    out = convert(path, tmp_path / f'mni{suffix}')
    arr = open_volume(out)
    assert arr.shape == want.shape == (197, 233, 189) and arr.dtype == want.dtype
    np.testing.assert_array_equal(arr, want)
    assert not arr.flags.writeable
    assert_geometry(volume_geometry(out), volume_geometry(path))
    # the slice readers see the same slices as for the NIfTI
    for axis in range(3):
        np.testing.assert_array_equal(read_slice(cached_volume(out), axis, 50),
                                      np.take(want, 50, axis))
    assert volume_stem(out) == 'mni'


def test_itk_geometry_is_nibabels_affine_in_lps(t1, tmp_path):
    nifti, affine = rotated_nifti(t1[1], tmp_path / 'oblique.nii.gz')
    nrrd = convert(nifti, tmp_path / 'oblique.nrrd')
    np.testing.assert_array_equal(open_volume(nrrd), t1[1])
    geo = volume_geometry(nifti)
    assert_geometry(geo, volume_geometry(nrrd), atol=1e-6)  # the header holds float32
    np.testing.assert_allclose(geo['spacing'], [0.8, 1.2, 2.5], atol=1e-6)
    # the point of voxel (i, j, k): origin + D @ (spacing * ijk) in LPS equals nibabel's
    # affine @ ijk in RAS with x and y negated, and SimpleITK's own mapping
    image = sitk.ReadImage(nrrd)
    direction = np.reshape(geo['direction'], (3, 3))
    for ijk in [(0, 0, 0), (196, 0, 0), (10, 200, 7), (196, 232, 188)]:
        lps = np.asarray(geo['origin']) + direction @ (np.asarray(geo['spacing']) * ijk)
        ras = affine[:3, :3] @ ijk + affine[:3, 3]
        np.testing.assert_allclose(lps, ras * [-1, -1, 1], atol=1e-4)
        np.testing.assert_allclose(lps, image.TransformIndexToPhysicalPoint(ijk), atol=1e-4)
    np.testing.assert_allclose(np.reshape(geo['direction'], (3, 3)) @ direction.T, np.eye(3),
                               atol=1e-6)


def test_affine_to_geometry_known_values():
    affine = np.array([[0, 0, 3.0, 1], [-2.0, 0, 0, 2], [0, 0.5, 0, 3], [0, 0, 0, 1]])
    geo = affine_to_geometry(affine)
    assert geo == dict(spacing=(2.0, 0.5, 3.0), origin=(-1.0, -2.0, 3.0),
                       direction=(0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0))


def test_npy_geometry_is_the_identity(tmp_path, t1):
    np.save(tmp_path / 'v.npy', t1[1][:4, :5, :6])
    assert volume_geometry(str(tmp_path / 'v.npy')) == dict(
        spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=tuple(np.eye(3).ravel()))


def write_series(voxels: np.ndarray, folder, *, series: str, spacing=(0.75, 0.5, 2.0),
                 origin=(-10.0, 5.0, 30.0)) -> None:
    """``voxels`` (x, y, z) as one DICOM file per z slice, with the tags a series needs
    (study / series / instance UIDs, image position and orientation, slice thickness)."""
    os.makedirs(folder, exist_ok=True)
    image = sitk.GetImageFromArray(np.ascontiguousarray(voxels.transpose(2, 1, 0)))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    # GDCM's writer leaves the process in the C locale (ASCII text files after it): put the
    # locale back
    saved = locale.setlocale(locale.LC_ALL)
    try:
        _write_planes(writer, image, folder, series, spacing)
    finally:
        locale.setlocale(locale.LC_ALL, saved)


def _write_planes(writer, image, folder, series: str, spacing) -> None:
    tags = {'0008|0060': 'MR', '0008|103e': 'MNI T1 crop', '0020|000d': STUDY,
            '0020|000e': series, '0020|0037': '1\\0\\0\\0\\1\\0', '0018|0050': str(spacing[2])}
    for k in range(image.GetDepth()):
        plane = image[:, :, k]
        for tag, value in tags.items():
            plane.SetMetaData(tag, value)
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        plane.SetMetaData('0020|0032', '\\'.join(f'{v:g}' for v in position))
        plane.SetMetaData('0020|0013', str(k + 1))
        plane.SetMetaData('0008|0018', f'{series}.{k + 1}')
        writer.SetFileName(os.path.join(folder, f'{series[-1]}_{k:03d}.dcm'))
        writer.Execute(plane)


@pytest.fixture
def t1_crop(t1):
    return t1[1][60:124, 70:150, 90:96].astype(np.int16)  # 64 x 80 x 6 real slices


def test_dicom_series_folder(t1_crop, tmp_path):
    folder = tmp_path / 'case_07'
    write_series(t1_crop, folder, series=f'{STUDY}.1')
    before = locale.setlocale(locale.LC_ALL)
    arr = open_volume(str(folder))
    assert locale.setlocale(locale.LC_ALL) == before  # reading leaves the locale alone
    assert arr.shape == (64, 80, 6) and arr.dtype == np.int16
    np.testing.assert_array_equal(arr, t1_crop)
    geo = volume_geometry(str(folder))
    assert_geometry(geo, dict(spacing=(0.75, 0.5, 2.0), origin=(-10.0, 5.0, 30.0),
                              direction=tuple(np.eye(3).ravel())), atol=1e-9)
    assert read_itk(folder)[1] == geo
    assert volume_stem(str(folder)) == volume_stem(f'{folder}/') == 'case_07'


def test_dicom_folder_errors(t1_crop, tmp_path):
    both = tmp_path / 'both'
    write_series(t1_crop, both, series=f'{STUDY}.1')
    write_series(t1_crop[:, :, :3], both, series=f'{STUDY}.2')
    with pytest.raises(VolumeError) as err:
        open_volume(str(both), role='image volume')
    msg = str(err.value)
    assert msg.startswith(f"image volume '{both}' holds 2 DICOM series (") and '\n' not in msg
    assert msg.endswith('); put each series in its own folder')
    assert f'{STUDY}.1' in msg and f'{STUDY}.2' in msg
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match=r"volume folder '.*empty' holds no DICOM series"):
        open_volume(str(tmp_path / 'empty'))
    with pytest.raises(VolumeError, match='holds no DICOM series'):
        volume_geometry(str(tmp_path / 'empty'))


def test_not_a_3d_scalar_volume(t1, tmp_path):
    slab = t1[1][80:100, 90:110, 90:95]
    frames = [sitk.GetImageFromArray(np.ascontiguousarray(v.transpose(2, 1, 0)))
              for v in (slab, slab[::-1])]
    four_d = sitk.JoinSeries(frames)  # two 3-D frames: (x, y, z, t) = (20, 20, 5, 2)
    assert four_d.GetDimension() == 4
    sitk.WriteImage(four_d, str(tmp_path / 'series.nrrd'))
    with pytest.raises(VolumeError, match=r"volume '.*series\.nrrd' has shape \(20, 20, 5, 2\) / "
                       r'1 component\(s\); a 3-D scalar volume is expected'):
        open_volume(str(tmp_path / 'series.nrrd'))
    rgb = sitk.GetImageFromArray(np.stack([slab] * 3, axis=-1).transpose(2, 1, 0, 3),
                                 isVector=True)
    sitk.WriteImage(rgb, str(tmp_path / 'rgb.mha'))
    with pytest.raises(VolumeError, match=r"has shape \(20, 20, 5\) / 3 component\(s\); a 3-D"):
        open_volume(str(tmp_path / 'rgb.mha'))
    with pytest.raises(VolumeError, match=r'/ 3 component'):
        volume_geometry(str(tmp_path / 'rgb.mha'))


def test_truncated_and_corrupt_files(t1, tmp_path):
    whole = convert(t1[0], tmp_path / 'whole.mha')
    data = open(whole, 'rb').read()
    (tmp_path / 'cut.mha').write_bytes(data[:len(data) // 2])
    with pytest.raises(VolumeError) as err:
        open_volume(str(tmp_path / 'cut.mha'), role='label volume')
    msg = str(err.value)
    assert msg.startswith(f"cannot read label volume '{tmp_path / 'cut.mha'}': ")
    assert msg.endswith('; the file may be truncated or corrupt (copy it again)')
    assert '\n' not in msg and 'Exception thrown' not in msg and '0x' not in msg
    (tmp_path / 'junk.nrrd').write_bytes(b'not a NRRD at all')
    with pytest.raises(DataError, match=r"cannot read volume '.*junk\.nrrd': .*ImageIO"):
        open_volume(str(tmp_path / 'junk.nrrd'))


def test_itk_reason():
    exc = RuntimeError('Exception thrown in SimpleITK ImageFileReader_Execute: /src/x.cxx:490:\n'
                       'ITK ERROR: MetaImageIO(0x55f48a299680): File cannot be read: a.mha\n'
                       'Reason: No such file or directory')
    assert itk_reason(exc) == 'File cannot be read: a.mha'
    assert itk_reason(RuntimeError('x' * 300)) == 'x' * 200
    assert itk_reason(RuntimeError('')) == 'RuntimeError'


@pytest.mark.parametrize('suffix', ITK_FORMATS)
def test_write_itk_like_keeps_the_reference_geometry(t1, tmp_path, suffix):
    nifti, _ = rotated_nifti(t1[1], tmp_path / 'oblique.nii.gz')
    ref = convert(nifti, tmp_path / 'oblique.nrrd')
    labels = (t1[1] > 100).astype(np.uint8) + (t1[1] > 200)
    out = write_itk_like(labels, ref, tmp_path / 'out' / f'seg{suffix}')
    assert out == tmp_path / 'out' / f'seg{suffix}'
    arr, geo = read_itk(out)
    np.testing.assert_array_equal(arr, labels)
    assert arr.dtype == np.uint8 and geo == read_itk(ref)[1]  # exactly
    image = sitk.ReadImage(str(out))  # SimpleITK's own view: (z, y, x)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), labels.transpose(2, 1, 0))
    assert not [p for p in os.listdir(out.parent) if p.startswith('.')]  # nothing staged left
    # from a geometry dict, over the file just written (replaced in place)
    write_itk_like(labels[::-1].astype(bool), geo, out)
    again = read_itk(out)
    np.testing.assert_array_equal(again[0], labels[::-1] > 0)
    assert again[1] == geo


def test_write_itk_like_nifti_reads_back_with_nibabel(t1, tmp_path):
    ref = convert(t1[0], tmp_path / 'mni.mha')
    labels = (t1[1] > 120).astype(np.uint8)
    out = write_itk_like(labels, ref, tmp_path / 'seg.nii.gz')
    img = nib.load(out)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels)
    np.testing.assert_allclose(img.affine, nib.load(t1[0]).affine, atol=1e-6)
    assert_geometry(volume_geometry(str(out)), volume_geometry(ref), atol=1e-6)


def test_write_itk_like_errors(t1, tmp_path):
    ref = convert(t1[0], tmp_path / 'mni.nrrd')
    labels = np.zeros((197, 233, 189), np.uint8)
    with pytest.raises(VolumeError, match=r"labels for '.*seg\.nrrd' have shape \(197, 233, 188\)"
                       r" but the reference '.*mni\.nrrd' has \(197, 233, 189\)"):
        write_itk_like(labels[..., 1:], ref, tmp_path / 'seg.nrrd')
    with pytest.raises(VolumeError, match=r"label volume '.*seg\.png' has an unknown suffix; "
                       r'use one of \.nii\.gz, \.nii, \.nrrd'):
        write_itk_like(labels, ref, tmp_path / 'seg.png')
    wide = labels.astype(np.int64)
    wide[5, 6, 7] = 300
    with pytest.raises(VolumeError, match=r'are int64 \(values 0\.\.300\); uint8 class indices'):
        write_itk_like(wide, ref, tmp_path / 'seg.nrrd')
    with pytest.raises(VolumeError, match=r'are float32 \(values 0\.0\.\.0\.0\); uint8'):
        write_itk_like(labels.astype(np.float32), ref, tmp_path / 'seg.nrrd')
    with pytest.raises(VolumeError, match=r'have shape \(197, 233\); a 3-D'):
        write_itk_like(labels[..., 0], ref, tmp_path / 'seg.nrrd')
    assert not os.path.exists(tmp_path / 'seg.nrrd')


def test_without_simpleitk(t1, tmp_path, monkeypatch):
    nrrd = convert(t1[0], tmp_path / 'mni.nrrd')
    write_series(t1[1][:8, :8, :2].astype(np.int16), tmp_path / 'dcm', series=f'{STUDY}.3')
    monkeypatch.setitem(sys.modules, 'SimpleITK', None)  # import SimpleITK now fails
    with pytest.raises(VolumeError, match=r"^reading \.nrrd \(volume '.*mni\.nrrd'\) needs "
                       r"SimpleITK: pip install 'altair-seg\[medical\]'$"):
        open_volume(nrrd)
    with pytest.raises(VolumeError, match=r"^reading a DICOM folder \(image volume '.*dcm'\) "
                       'needs SimpleITK'):
        open_volume(str(tmp_path / 'dcm'), role='image volume')
    with pytest.raises(VolumeError, match=r'^writing \.mha .* needs SimpleITK'):
        write_itk_like(np.zeros((2, 2, 2), np.uint8), volume_geometry(t1[0]), tmp_path / 'a.mha')
    # NIfTI needs no SimpleITK
    np.testing.assert_array_equal(open_volume(t1[0])[:, :, 90], t1[1][:, :, 90])


def test_suffix_table_and_stems(tmp_path):
    assert set(ITK_SUFFIXES) == set(ITK_FORMATS) and set(ITK_SUFFIXES) <= set(VOLUME_SUFFIXES)
    assert VOLUME_SUFFIXES[:3] == ('.nii.gz', '.nii', '.npy')
    assert [volume_stem(f'a/ct_1{s}') for s in ('.NHDR', '.mhd', '.nii.gz')] == ['ct_1'] * 3
    with pytest.raises(VolumeError, match=r"volume 'ct\.vol' has an unknown suffix; use one of "
                       r'\.nii\.gz, \.nii, \.npy, \.nrrd, \.nhdr, \.mha, \.mhd, or a folder '
                       'holding one DICOM series'):
        open_volume('ct.vol')


def test_altair_init_finds_itk_volumes(t1, tmp_path):
    from altair.datasets.inspect import detect_layout
    for case, suffix in (('a', '.mha'), ('b', '.nhdr')):
        for folder in ('images', 'labels'):
            (tmp_path / folder).mkdir(exist_ok=True)
            convert(t1[0], tmp_path / folder / f'{case}{suffix}')
    layout = detect_layout(tmp_path)  # .nhdr's data file (b.raw.gz) is not a volume
    assert layout.kind == 'volumes'
    assert [(os.path.basename(p.img), os.path.basename(p.ann)) for p in layout.pairs] == [
        ('a.mha', 'a.mha'), ('b.nhdr', 'b.nhdr')]
