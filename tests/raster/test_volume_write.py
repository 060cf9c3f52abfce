"""``VolumeWriter`` against nibabel and NumPy reading the files back."""
from __future__ import annotations

import hashlib

import nibabel as nib
import numpy as np
import pytest

from altair.raster.errors import VolumeError
from altair.raster.volume_write import VolumeWriter, volume_suffix


@pytest.fixture
def source(tmp_path):
    """A big-endian int16 NIfTI with an oblique affine, distinct qform and sform codes,
    voxel sizes and an extension: what the output must carry over."""
    rng = np.random.default_rng(0)
    data = rng.integers(-100, 1000, (13, 11, 9)).astype('>i2')
    affine = np.array([[-0.9, 0.1, 0, 80], [0.05, 1.1, 0.2, -110], [0, -0.1, 2.5, -60],
                       [0, 0, 0, 1]])
    img = nib.Nifti1Image(data, affine)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=4)
    img.header.extensions.append(nib.nifti1.Nifti1Extension('comment', b'scanner notes'))
    path = tmp_path / 'case.nii.gz'
    nib.save(img, path)
    return path


def write_in_slabs(path, like, labels, axis, step=4, **kwargs):
    w = VolumeWriter(path, like=like, shape=labels.shape[:3], axis=axis,
                     dtype=labels.dtype, **kwargs)
    for start in range(0, labels.shape[axis], step):
        w.write(start, np.take(labels, range(start, min(start + step,
                                                        labels.shape[axis])), axis=axis))
    return w.close()


@pytest.mark.parametrize('axis', [0, 1, 2])
@pytest.mark.parametrize('suffix', ['.nii.gz', '.nii'])
def test_nifti_keeps_the_source_header_and_the_voxels(source, tmp_path, axis, suffix):
    labels = np.random.default_rng(1).integers(0, 4, (13, 11, 9)).astype(np.uint8)
    out = write_in_slabs(tmp_path / f'case_seg{suffix}', source, labels, axis)
    src, got = nib.load(source), nib.load(out)
    assert np.array_equal(np.asanyarray(got.dataobj), labels)
    assert got.get_data_dtype() == np.uint8
    assert np.array_equal(got.affine, src.affine)
    for key in ('qform_code', 'sform_code', 'pixdim', 'xyzt_units', 'quatern_b', 'srow_x'):
        assert np.array_equal(got.header[key], src.header[key]), key
    assert [e.get_content() for e in got.header.extensions] == [b'scanner notes']


def test_a_four_dimensional_output_holds_one_volume_per_component(source, tmp_path):
    probs = np.random.default_rng(2).random((13, 11, 9, 3)).astype(np.float32)
    for axis in (2, 0):
        out = write_in_slabs(tmp_path / f'p{axis}.nii.gz', source, probs, axis, step=2,
                             components=3)
        got = nib.load(out)
        assert got.shape == (13, 11, 9, 3)
        assert np.array_equal(np.asanyarray(got.dataobj), probs)


@pytest.mark.parametrize('axis', [0, 2])
def test_npy_outputs(tmp_path, axis):
    like = tmp_path / 'case.npy'
    np.save(like, np.zeros((6, 7, 8), np.int16))
    labels = np.random.default_rng(3).integers(0, 3, (6, 7, 8)).astype(np.uint8)
    out = write_in_slabs(tmp_path / 'case_seg.npy', like, labels, axis, step=3)
    assert np.array_equal(np.load(out), labels)


def test_the_same_voxels_give_the_same_bytes(source, tmp_path):
    labels = np.random.default_rng(4).integers(0, 4, (13, 11, 9)).astype(np.uint8)
    digests = set()
    for name in ('a', 'b'):
        (tmp_path / name).mkdir()
        out = write_in_slabs(tmp_path / name / 'case_seg.nii.gz', source, labels, 2)
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_nothing_appears_until_close_and_abort_removes_the_temporary(source, tmp_path):
    out = tmp_path / 'case_seg.nii.gz'
    w = VolumeWriter(out, like=source, shape=(13, 11, 9), axis=2, dtype=np.uint8)
    w.write(0, np.zeros((13, 11, 4), np.uint8))
    assert not out.exists()
    w.abort()
    assert list(tmp_path.iterdir()) == [source]


def test_streamed_slabs_come_in_order_and_all_of_them(source, tmp_path):
    w = VolumeWriter(tmp_path / 'x.nii.gz', like=source, shape=(13, 11, 9), axis=2,
                     dtype=np.uint8)
    with pytest.raises(ValueError, match='expected slice 0, got 4'):
        w.write(4, np.zeros((13, 11, 2), np.uint8))
    w.write(0, np.zeros((13, 11, 4), np.uint8))
    with pytest.raises(ValueError, match='4 of 9 slices'):
        w.close()
    assert not (tmp_path / 'x.nii.gz').exists()
    with pytest.raises(ValueError, match='does not fit'):
        VolumeWriter(tmp_path / 'y.nii', like=source, shape=(13, 11, 9), axis=2,
                     dtype=np.uint8).write(0, np.zeros((12, 11, 4), np.uint8))


def test_an_unknown_suffix_is_one_line(tmp_path):
    with pytest.raises(VolumeError, match="'x.mp4' has no volume suffix"):
        volume_suffix('x.mp4')
