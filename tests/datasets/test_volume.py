"""VolumeSliceDataset / LoadVolumeSlice against NumPy indexing of the same arrays."""
from __future__ import annotations

import os

import nibabel as nib
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from altair.raster import volume as volume_mod
from altair.datasets.volume import LoadVolumeSlice, VolumeSliceDataset
from altair.errors import DataError, DataNotFoundError

SHAPE = (5, 6, 7)  # a different length per axis, so a wrong axis cannot pass
CLASSES = ('background', 'organ', 'tumour')
FORMATS = ('npy', 'nii', 'nii.gz')


def image_volume(shape=SHAPE, offset: float = 0.0) -> np.ndarray:
    """Every voxel its own value: -100 + 1.5 * (flat index) + offset."""
    return (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * 1.5 - 100 + offset)


def label_volume(shape=SHAPE) -> np.ndarray:
    """A class-1 blob, one class-2 voxel and one ignore-only voxel, elsewhere background."""
    lab = np.zeros(shape, np.uint8)
    lab[1:3, 2:4, 3:5] = 1
    lab[0, 5, 6] = 2
    lab[4, 0, 0] = 255  # slices that hold only 0 and 255 still count as empty
    return lab


def save(arr: np.ndarray, path) -> str:
    path = str(path)
    if path.endswith('.npy'):
        np.save(path, arr)
    else:
        nib.save(nib.Nifti1Image(arr, np.eye(4)), path)
    return path


def make_case(root, name: str, fmt: str, *, img=None, lab=None) -> dict:
    save(image_volume() if img is None else img, root / f'{name}.{fmt}')
    save(label_volume() if lab is None else lab, root / f'{name}_seg.{fmt}')
    return dict(img=f'{name}.{fmt}', ann=f'{name}_seg.{fmt}')


def dataset(root, volumes, **kwargs) -> VolumeSliceDataset:
    return VolumeSliceDataset(volumes=volumes, classes=CLASSES, data_root=str(root), **kwargs)


def load(ds: VolumeSliceDataset, i: int) -> dict:
    return LoadVolumeSlice()(ds.get_data_info(i))


def is_empty(label_slice: np.ndarray, ignore_index: int = 255) -> bool:
    return not np.isin(label_slice, [0, ignore_index], invert=True).any()


@pytest.mark.parametrize('fmt', FORMATS)
@pytest.mark.parametrize('axis', [0, 1, 2])
def test_every_slice_is_numpy_take(tmp_path, fmt, axis):
    ds = dataset(tmp_path, [make_case(tmp_path, 'ct', fmt)], axis=axis)
    vol, lab = image_volume(), label_volume()
    assert len(ds) == SHAPE[axis]
    for k in range(len(ds)):
        out = load(ds, k)
        want = np.take(vol, k, axis)
        assert out['slice_index'] == k and out['axis'] == axis and out['norm'] is None
        assert out['img'].dtype == np.float32 and out['img'].shape == want.shape + (1,)
        assert np.array_equal(out['img'][..., 0], want)
        assert out['gt_seg_map'].dtype == np.uint8
        assert np.array_equal(out['gt_seg_map'], np.take(lab, k, axis))
        assert out['img_shape'] == out['ori_shape'] == want.shape
        assert out['seg_fields'] == ['gt_seg_map'] and out['reduce_zero_label'] is False
        assert out['img_path'] == os.path.join(str(tmp_path), f'ct.{fmt}')


@pytest.mark.parametrize('fmt', FORMATS)
def test_percentile_normalisation_per_volume(tmp_path, fmt):
    vols = [image_volume(), image_volume(offset=1000.0) ** 2 / 1000]
    cases = [make_case(tmp_path, f'v{i}', fmt, img=v) for i, v in enumerate(vols)]
    ds = dataset(tmp_path, cases, axis=1, normalize=dict(mode='percentile', lower=2, upper=90))
    assert len(ds) == 2 * SHAPE[1]
    for i in range(len(ds)):
        out = load(ds, i)
        vol = vols[i // SHAPE[1]]
        lo, hi = np.percentile(vol.astype(np.float64), [2, 90])
        assert out['norm'] == pytest.approx((lo, hi))
        want = (np.clip(np.take(vol, out['slice_index'], 1), lo, hi) - lo) / (hi - lo)
        np.testing.assert_allclose(out['img'][..., 0], want, rtol=1e-5, atol=1e-6)
        assert 0 <= out['img'].min() and out['img'].max() <= 1


def test_window_normalisation(tmp_path):
    ds = dataset(tmp_path, [make_case(tmp_path, 'ct', 'nii.gz')], axis=0,
                 normalize=dict(mode='window', center=40, width=100))
    vol = image_volume()
    for k in range(len(ds)):
        out = load(ds, k)
        assert out['norm'] == (-10.0, 90.0)
        want = (np.clip(np.take(vol, k, 0), -10, 90) + 10) / 100
        np.testing.assert_allclose(out['img'][..., 0], want, rtol=1e-6, atol=1e-7)
    assert load(ds, 0)['img'].min() == 0 and load(ds, len(ds) - 1)['img'].max() == 1


def test_nifti_is_memory_mapped_unless_the_header_scales_it(tmp_path):
    plain = volume_mod.open_volume(save(image_volume(), tmp_path / 'plain.nii'))
    assert isinstance(plain, np.memmap)
    scaled_img = nib.Nifti1Image(image_volume() / 7, np.eye(4))
    scaled_img.set_data_dtype(np.int16)  # nibabel stores it with a slope and an intercept
    nib.save(scaled_img, tmp_path / 'scaled.nii')
    save(label_volume(), tmp_path / 'scaled_seg.nii')
    proxy = volume_mod.open_volume(str(tmp_path / 'scaled.nii'))
    assert not isinstance(proxy, np.ndarray) and proxy.slope != 1
    full = np.asanyarray(nib.load(tmp_path / 'scaled.nii').dataobj)
    np.testing.assert_allclose(full, image_volume() / 7, atol=0.05)
    ds = dataset(tmp_path, [dict(img='scaled.nii', ann='scaled_seg.nii')], axis=0)
    for k in range(len(ds)):
        np.testing.assert_array_equal(load(ds, k)['img'][..., 0],
                                      np.take(full, k, 0).astype(np.float32))


class CountingArray:
    """A lazy volume that records how many voxels each read returns."""

    def __init__(self, arr: np.ndarray) -> None:
        self.arr, self.shape, self.dtype, self.order, self.reads = arr, arr.shape, arr.dtype, \
            'C', []

    def __getitem__(self, index):
        out = self.arr[index]
        self.reads.append(out.size)
        return out


def test_percentiles_are_estimated_on_a_bounded_strided_sample():
    vol = image_volume((40, 50, 60))
    lazy = CountingArray(vol)
    lo, hi = volume_mod.percentiles(lazy, 1, 99, max_voxels=5000)
    assert sum(lazy.reads) <= 5000
    exact_lo, exact_hi = np.percentile(vol, [1, 99])
    span = float(vol.max() - vol.min())
    assert abs(lo - exact_lo) < 0.03 * span and abs(hi - exact_hi) < 0.03 * span
    # small volumes are sampled whole, so the result is exact
    assert volume_mod.percentiles(CountingArray(vol), 1, 99) == pytest.approx(
        (exact_lo, exact_hi))


@pytest.mark.parametrize('fmt', ['npy', 'nii.gz'])
@pytest.mark.parametrize('axis', [0, 1, 2])
def test_skip_empty_drops_exactly_the_empty_slices(tmp_path, fmt, axis):
    case = make_case(tmp_path, 'ct', fmt)
    lab = label_volume()
    want = [k for k in range(SHAPE[axis]) if not is_empty(np.take(lab, k, axis))]
    assert 0 < len(want) < SHAPE[axis]
    ds = dataset(tmp_path, [case], axis=axis, skip_empty=True)
    assert [ds.get_data_info(i)['slice_index'] for i in range(len(ds))] == want
    for i, k in enumerate(want):
        out = load(ds, i)
        assert np.array_equal(out['img'][..., 0], np.take(image_volume(), k, axis))
        assert not is_empty(out['gt_seg_map'])
    assert len(dataset(tmp_path, [case], axis=axis)) == SHAPE[axis]


def volumes_of(ds: VolumeSliceDataset) -> set[str]:
    return {ds.get_data_info(i)['img_path'] for i in range(len(ds))}


def test_volume_split_is_disjoint_complete_and_deterministic(tmp_path):
    cases = [make_case(tmp_path, f'case{i}', 'npy', img=image_volume(offset=i))
             for i in range(5)]
    split = dict(by='volume', val_fraction=0.4, seed=3)
    train = dataset(tmp_path, cases, split=split, subset='train')
    val = dataset(tmp_path, cases, split=split, subset='val')
    every = dataset(tmp_path, cases, split=split, subset='all')
    assert not volumes_of(train) & volumes_of(val)
    assert volumes_of(train) | volumes_of(val) == volumes_of(every)
    assert len(volumes_of(every)) == 5 and len(volumes_of(val)) == 2
    assert len(train) + len(val) == len(every) == 5 * SHAPE[2]
    expected = {os.path.join(str(tmp_path), cases[i]['img'])
                for i in np.random.default_rng(3).permutation(5)[:2]}
    assert volumes_of(val) == expected
    again = dataset(tmp_path, cases, split=split, subset='val')
    assert [again.get_data_info(i) for i in range(len(again))] == \
        [val.get_data_info(i) for i in range(len(val))]


def test_split_needs_two_volumes(tmp_path):
    case = make_case(tmp_path, 'ct', 'npy')
    with pytest.raises(DataError, match="split by='volume' needs at least 2 volumes, got 1"):
        dataset(tmp_path, [case], split=dict(by='volume'), subset='train')
    with pytest.raises(DataError, match="subset 'val' needs split="):
        dataset(tmp_path, [case], subset='val')


def test_glob_and_ann_pattern_replace_the_stem(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'labels').mkdir()
    for name in ('b', 'a'):
        save(image_volume(), tmp_path / 'images' / f'{name}.nii.gz')
        save(label_volume(), tmp_path / 'labels' / f'{name}_seg.nii.gz')
    ds = VolumeSliceDataset(img_glob='images/*.nii.gz', ann_pattern='labels/{stem}_seg.nii.gz',
                            classes=CLASSES, data_root=str(tmp_path), axis=0)
    assert [v['ann'] for v in ds.volumes] == [
        os.path.join(str(tmp_path), 'labels', f'{n}_seg.nii.gz') for n in 'ab']
    assert np.array_equal(load(ds, 7)['gt_seg_map'], label_volume()[2])
    os.remove(tmp_path / 'labels' / 'b_seg.nii.gz')
    with pytest.raises(DataNotFoundError, match=r"label volume '.*b_seg\.nii\.gz' of image "
                       r"'.*b\.nii\.gz' does not exist; fix ann"):
        VolumeSliceDataset(img_glob='images/*.nii.gz', ann_pattern='labels/{stem}_seg.nii.gz',
                           classes=CLASSES, data_root=str(tmp_path))


def test_configuration_errors(tmp_path):
    case = make_case(tmp_path, 'ct', 'npy')
    save(np.zeros((5, 6, 8), np.uint8), tmp_path / 'wrong.npy')
    with pytest.raises(DataError, match=r"label volume '.*wrong\.npy' has shape \(5, 6, 8\) "
                       r"but its image '.*ct\.npy' has shape \(5, 6, 7\); give each image"):
        dataset(tmp_path, [dict(img='ct.npy', ann='wrong.npy')])
    with pytest.raises(DataNotFoundError, match=r"label volume '.*nope\.npy' of image "
                       r"'.*ct\.npy' does not exist"):
        dataset(tmp_path, [dict(img='ct.npy', ann='nope.npy')])
    with pytest.raises(DataNotFoundError, match=r"image volume '.*gone\.nii' does not exist"):
        dataset(tmp_path, [dict(img='gone.nii', ann=case['ann'])])
    (tmp_path / 'ct.vol').write_bytes(b'')
    with pytest.raises(DataError, match=r"volume '.*ct\.vol' has an unknown suffix; use one "
                       r'of \.nii\.gz, \.nii, \.npy'):
        dataset(tmp_path, [dict(img='ct.vol', ann=case['ann'])])
    with pytest.raises(DataError, match='axis 3: choose 0, 1 or 2'):
        dataset(tmp_path, [case], axis=3)
    with pytest.raises(DataError, match="normalize mode 'zscore': choose"):
        dataset(tmp_path, [case], normalize=dict(mode='zscore'))
    for err in (DataError, ValueError):  # callers may catch either
        with pytest.raises(err):
            dataset(tmp_path, [case], axis=-1)


@pytest.mark.parametrize('bad, shown', [(3.5, '3.5'), (300, '300'), (-1, '-1')])
def test_label_values_must_be_class_indices(tmp_path, bad, shown):
    lab = label_volume().astype(np.float32 if isinstance(bad, float) else np.int16)
    lab[2, 3, 4] = bad
    case = make_case(tmp_path, 'ct', 'nii', lab=lab)
    ds = dataset(tmp_path, [case], axis=0)
    assert np.array_equal(load(ds, 1)['gt_seg_map'], label_volume()[1])  # other slices load
    with pytest.raises(DataError, match=rf"label volume '.*ct_seg\.nii' \(slice 2 along axis "
                       rf"0\) holds the value {shown}; labels must be integers 0\.\.254"):
        load(ds, 2)
    with pytest.raises(DataError, match=rf"label volume '.*ct_seg\.nii' holds the value {shown}"):
        dataset(tmp_path, [case], skip_empty=True)


def test_unlabelled_volume_has_no_ground_truth(tmp_path):
    save(image_volume(), tmp_path / 'ct.npy')
    out = load(dataset(tmp_path, [dict(img='ct.npy')], axis=2), 3)
    assert np.array_equal(out['img'][..., 0], image_volume()[:, :, 3])
    assert 'gt_seg_map' not in out


def test_volumes_are_cached_per_process(tmp_path):
    path = save(image_volume(), tmp_path / 'ct.npy')
    assert volume_mod.cached_volume(path) is volume_mod.cached_volume(path)
    assert (os.getpid(), path) in volume_mod._volumes
    for i in range(volume_mod._CACHE_SIZE + 2):
        volume_mod.cached_volume(save(image_volume(), tmp_path / f'other{i}.npy'))
    assert len(volume_mod._volumes) <= volume_mod._CACHE_SIZE
    assert (os.getpid(), path) not in volume_mod._volumes


def test_getitem_runs_the_registered_pipeline(tmp_path):
    from altair.registry import DATASETS
    case = make_case(tmp_path, 'ct', 'nii.gz')
    with DefaultScope.overwrite_default_scope('altair'):
        ds = DATASETS.build(dict(type='VolumeSliceDataset', volumes=[case], classes=CLASSES,
                                 data_root=str(tmp_path), axis=1,
                                 pipeline=[dict(type='LoadVolumeSlice')]))
        out = ds[4]
    assert isinstance(ds, VolumeSliceDataset) and ds.metainfo['classes'] == CLASSES
    assert np.array_equal(out['img'][..., 0], image_volume()[:, 4, :])
    assert np.array_equal(out['gt_seg_map'], label_volume()[:, 4, :])
