"""Multi-channel volume cases: the channel files of a case, each channel opened and
normalised on its own (against nibabel reads and NumPy recomputations), and the label volume
checked against its image's shape and affine, in the dataset and in ``altair init``'s plan."""
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from altair.datasets.cases import (case_files, case_norms, check_label_volume, norm_range,
                                   normalise, open_case)
from altair.datasets.inspect import detect_layout
from altair.datasets.volume import LoadVolumeSlice, VolumeSliceDataset
from altair.datasets.volume_plan import volume_plan
from altair.errors import DataError
from altair.raster.errors import VolumeError

SHAPE = (9, 10, 11)
CLASSES = ('background', 'organ')


def _nifti(arr: np.ndarray, path, affine=None) -> str:
    nib.save(nib.Nifti1Image(arr, np.eye(4) if affine is None else affine), str(path))
    return str(path)


def _channels(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A T1-like and a CT-like channel (int16, different ranges) and a 0/1 label."""
    rng = np.random.default_rng(seed)
    lab = np.zeros(SHAPE, np.uint8)
    lab[2:6, 3:8, 4:9] = 1
    t1 = (rng.normal(200, 30, SHAPE) + 400 * lab).astype(np.int16)
    ct = (rng.normal(-300, 80, SHAPE) - 500 * lab).astype(np.int16)
    return t1, ct, lab


def _case(root, name: str, seed: int, *, label_affine=None) -> dict:
    t1, ct, lab = _channels(seed)
    _nifti(t1, root / f'{name}_0000.nii.gz')
    _nifti(ct, root / f'{name}_0001.nii.gz')
    _nifti(lab, root / f'{name}.nii.gz', label_affine)
    return dict(img=[f'{name}_0000.nii.gz', f'{name}_0001.nii.gz'], ann=f'{name}.nii.gz')


def _reference(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip(x.astype(np.float64), lo, hi) - lo) / (hi - lo)


def test_case_files_of_a_path_and_of_a_list(tmp_path):
    assert case_files('a.nii.gz') == ['a.nii.gz']
    assert case_files(tmp_path / 'a.nii') == [str(tmp_path / 'a.nii')]
    assert case_files(('t1.nii', 't2.nii')) == ['t1.nii', 't2.nii']
    with pytest.raises(VolumeError, match='at least one file'):
        case_files([])


@pytest.mark.parametrize('axis', [0, 1, 2])
def test_multi_channel_slices_are_each_channel_normalised(tmp_path, axis):
    cases = [_case(tmp_path, f'c{i}', i) for i in range(2)]
    normalize = [dict(mode='percentile', lower=1, upper=99),
                 dict(mode='window', center=-400, width=600)]
    ds = VolumeSliceDataset(volumes=cases, classes=CLASSES, data_root=str(tmp_path),
                            axis=axis, normalize=normalize)
    assert len(ds) == 2 * SHAPE[axis]
    for v, case in zip(ds.volumes, cases):
        t1 = np.asarray(nib.load(str(tmp_path / case['img'][0])).dataobj, np.float64)
        assert v['norm'][0] == pytest.approx(tuple(np.percentile(t1, [1, 99])))
        assert v['norm'][1] == (-700.0, -100.0)
    for i in range(len(ds)):
        out = LoadVolumeSlice()(ds.get_data_info(i))
        case, k = cases[i // SHAPE[axis]], out['slice_index']
        want = [np.take(np.asarray(nib.load(str(tmp_path / f)).dataobj), k, axis)
                for f in case['img']]
        assert out['img'].dtype == np.float32
        assert out['img'].shape == want[0].shape + (2,) == out['img_shape'] + (2,)
        for c, (lo, hi) in enumerate(out['norm']):
            np.testing.assert_allclose(out['img'][..., c], _reference(want[c], lo, hi),
                                       rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal(out['img'][..., c], normalise(want[c], (lo, hi)))
        label = np.asarray(nib.load(str(tmp_path / case['ann'])).dataobj)
        np.testing.assert_array_equal(out['gt_seg_map'], np.take(label, k, axis))


def test_one_normalize_for_every_channel_and_raw_channels(tmp_path):
    case = _case(tmp_path, 'c', 0)
    one = VolumeSliceDataset(volumes=[case], classes=CLASSES, data_root=str(tmp_path),
                             normalize=dict(mode='window', center=0, width=1000))
    assert one.volumes[0]['norm'] == [(-500.0, 500.0), (-500.0, 500.0)]
    raw = VolumeSliceDataset(volumes=[case], classes=CLASSES, data_root=str(tmp_path))
    out = LoadVolumeSlice()(raw.get_data_info(3))
    t1, ct, _ = _channels(0)
    assert raw.volumes[0]['norm'] == [None, None]
    np.testing.assert_array_equal(out['img'], np.stack([t1[:, :, 3], ct[:, :, 3]], -1))


def test_case_norms_against_norm_range(tmp_path):
    t1, ct, _ = _channels(3)
    arrays = open_case([_nifti(t1, tmp_path / 'a.nii'), _nifti(ct, tmp_path / 'b.nii')])
    pct = dict(mode='percentile', lower=0.5, upper=99.5)
    lo, hi = np.percentile(t1.astype(np.float64), [0.5, 99.5])
    assert case_norms(arrays, pct)[0] == pytest.approx((lo, hi))
    assert case_norms(arrays, [None, pct]) == [None, norm_range(arrays[1], pct)]
    assert case_norms(arrays, None) == [None, None]
    with pytest.raises(VolumeError, match=r'normalize lists 3 entries but the case has 2 '
                       r'channel\(s\)'):
        case_norms(arrays, [pct, pct, pct])
    with pytest.raises(DataError, match='normalize lists 1 entries'):
        VolumeSliceDataset(volumes=[dict(img=['a.nii', 'b.nii'])], classes=CLASSES,
                           data_root=str(tmp_path), normalize=[pct])


def test_channels_of_different_shapes_are_one_error(tmp_path):
    a = _nifti(np.zeros(SHAPE, np.int16), tmp_path / 'a_0000.nii.gz')
    b = _nifti(np.zeros((9, 10, 12), np.int16), tmp_path / 'a_0001.nii.gz')
    with pytest.raises(VolumeError) as info:
        open_case([a, b])
    msg = str(info.value)
    assert '\n' not in msg and f"'{b}' has shape (9, 10, 12)" in msg
    assert f"'{a}' of the same case has shape (9, 10, 11)" in msg


def test_a_label_volume_with_another_affine_is_one_error(tmp_path):
    shifted = np.eye(4)
    shifted[0, 3] = 2.5  # the same grid moved 2.5 mm along x
    good, bad = _case(tmp_path, 'good', 0), _case(tmp_path, 'bad', 1, label_affine=shifted)
    img, ann = str(tmp_path / bad['img'][0]), str(tmp_path / bad['ann'])
    with pytest.raises(VolumeError) as info:
        check_label_volume(img, ann, shape=SHAPE)
    msg = str(info.value)
    assert '\n' not in msg and msg.startswith(f"label volume '{ann}' has affine ")
    assert '2.5' in msg and f"but its image '{img}' has " in msg
    check_label_volume(str(tmp_path / good['img'][0]), str(tmp_path / good['ann']), shape=SHAPE)
    # a float32 header's rounding is no difference
    _nifti(_channels(2)[2], tmp_path / 'near.nii', np.eye(4) + 1e-5)
    check_label_volume(str(tmp_path / good['img'][0]), str(tmp_path / 'near.nii'), shape=SHAPE)
    with pytest.raises(DataError, match=r"label volume '.*bad\.nii\.gz' has affine"):
        VolumeSliceDataset(volumes=[good, bad], classes=CLASSES, data_root=str(tmp_path))


def test_the_plan_refuses_labels_with_another_affine(tmp_path):
    shifted = np.diag([2.0, 1.0, 1.0, 1.0])  # other voxel sizes: same shape, another grid
    for sub in ('imagesTr', 'labelsTr'):
        (tmp_path / sub).mkdir()
    for i in range(2):
        t1, _, lab = _channels(i)
        _nifti(t1, tmp_path / 'imagesTr' / f'v{i}.nii.gz')
        _nifti(lab, tmp_path / 'labelsTr' / f'v{i}.nii.gz', shifted if i else None)
    with pytest.raises(DataError, match=r"label volume '.*labelsTr/v1\.nii\.gz' has affine "
                       r".* but its image '.*imagesTr/v1\.nii\.gz' has"):
        volume_plan(detect_layout(tmp_path))


def test_oversampling_keys_multi_channel_cases(tmp_path):
    cases = [_case(tmp_path, f'c{i}', i) for i in range(2)]
    ds = VolumeSliceDataset(volumes=cases, classes=CLASSES, data_root=str(tmp_path),
                            oversample=dict(share=1.0, classes=[1]))
    np.random.seed(0)
    info = ds.get_data_info(0)
    lab = np.asarray(nib.load(str(tmp_path / cases[0]['ann'])).dataobj)
    row, col = info['crop_centre']
    assert lab[row, col, info['slice_index']] == 1


def test_context_indices_repeat_the_edge_slice():
    from altair.datasets.cases import context_indices
    assert context_indices(0, 5, 1) == [0, 0, 1]
    assert context_indices(2, 5, 2) == [0, 1, 2, 3, 4]
    assert context_indices(4, 5, 2) == [2, 3, 4, 4, 4]
    assert context_indices(3, 5, 0) == [3]


@pytest.mark.parametrize('axis', [0, 2])
def test_context_slices_are_channels_in_order(tmp_path, axis):
    """2.5-D context 1 on a 2-channel case: channel-major, slices k-1, k, k+1 (the edge slice
    repeated at the ends), each normalised with its channel's range."""
    cases = [_case(tmp_path, f'c{i}', i) for i in range(2)]
    normalize = [dict(mode='percentile', lower=1, upper=99),
                 dict(mode='window', center=-400, width=600)]
    ds = VolumeSliceDataset(volumes=cases, classes=CLASSES, data_root=str(tmp_path),
                            axis=axis, normalize=normalize, context=1)
    depth = SHAPE[axis]
    for i in (0, 1, depth - 1):  # the first, an inner and the last slice of case 0
        out = LoadVolumeSlice()(ds.get_data_info(i))
        k = out['slice_index']
        channels = [np.asarray(nib.load(str(tmp_path / f)).dataobj) for f in cases[0]['img']]
        want = [normalise(np.take(ch, min(max(j, 0), depth - 1), axis), norm)
                for ch, norm in zip(channels, out['norm']) for j in (k - 1, k, k + 1)]
        assert out['img'].shape[-1] == 6
        for c in range(6):
            np.testing.assert_array_equal(out['img'][..., c], want[c])
    with pytest.raises(VolumeError, match='context 9'):
        VolumeSliceDataset(volumes=cases, classes=CLASSES, data_root=str(tmp_path), context=9)
