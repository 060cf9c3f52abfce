"""The plan of an nnU-Net raw dataset: a CT channel's window from the foreground voxels'
percentiles, per-channel mean and std of the normalised voxels, the classes of dataset.json
and the cases to predict, all against NumPy on the arrays written."""
from __future__ import annotations

import math

import numpy as np
import pytest

from altair.datasets.inspect import detect_layout
from altair.datasets.volume_plan import ct_window, sample_step, scan_cases, volume_plan
from altair.errors import DataError
from tests.datasets.test_nnunet_raw import SHAPE, nnunet_set


def _volumes(n: int, seed: int = 0) -> dict:
    """``n`` cases of an MR-like and a CT-like channel (HU) with a 0/1/2 label."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        lab = np.zeros(SHAPE, np.uint8)
        lab[2:7 + i, 3:9, 1:4] = 1
        lab[8:11, 9:12, 2:5] = 2
        mr = (rng.normal(300, 40, SHAPE) + 200 * lab).astype(np.int16)
        ct = (rng.normal(-600, 150, SHAPE) + 500 * lab + 30 * (lab == 2)).astype(np.int16)
        out[f'case{i}'] = ([mr, ct], lab)
    return out


def test_ct_window_is_the_foreground_percentiles(tmp_path):
    vols = _volumes(3)
    root = nnunet_set(tmp_path / 'd', channels=('T2', 'ct'), volumes=vols, test_cases=2)
    plan = volume_plan(detect_layout(root), context=0)  # 2.5-D context: its own tests
    fg = np.concatenate([imgs[1][lab != 0].astype(np.float64) for imgs, lab in vols.values()])
    lo, hi = np.percentile(fg, [0.5, 99.5])
    pct = dict(mode='percentile', lower=0.5, upper=99.5)
    assert plan.data.normalize[0] == pct
    window = plan.data.normalize[1]
    assert window['mode'] == 'window'
    assert window['center'] == pytest.approx((lo + hi) / 2, abs=1e-4)
    assert window['width'] == pytest.approx(hi - lo, abs=1e-4)
    # each channel's mean and std of its voxels normalised as the dataset will
    ranges = [[tuple(np.percentile(imgs[0].astype(np.float64), [0.5, 99.5]))
               for imgs, _ in vols.values()],
              [(window['center'] - window['width'] / 2, window['center'] + window['width'] / 2)]
              * len(vols)]
    for c in range(2):
        x = np.concatenate([np.clip((imgs[c].astype(np.float64) - a) / (b - a), 0, 1).ravel()
                            for (imgs, _), (a, b) in zip(vols.values(), ranges[c])])
        assert plan.mean[c] == pytest.approx(x.mean(), abs=1e-4)
        assert plan.std[c] == pytest.approx(x.std(), abs=1e-4)
    assert plan.in_channels == 2 and len(plan.mean) == len(plan.std) == 2
    assert plan.classes.names == ['background', 'GM', 'WM']
    labels = np.concatenate([lab.ravel() for _, lab in vols.values()])
    np.testing.assert_allclose(plan.shares, np.bincount(labels) / labels.size)
    assert plan.data.volumes[0] == dict(img=['imagesTr/case0_0000.nii.gz',
                                             'imagesTr/case0_0001.nii.gz'],
                                        ann='labelsTr/case0.nii.gz')
    assert plan.data.predict == [[f'imagesTs/ts_{i:03d}_{c:04d}.nii.gz' for c in range(2)]
                                 for i in range(2)]
    assert any('2 case(s) in imagesTs/' in line for line in plan.summary)
    assert any("1 'ct': window" in line for line in plan.summary)


def test_the_foreground_sample_is_strided_and_bounded(tmp_path):
    vols = _volumes(2, seed=1)
    root = nnunet_set(tmp_path / 'd', channels=('CT',), test_cases=0,
                      volumes={k: ([imgs[1]], lab) for k, (imgs, lab) in vols.items()})
    layout = detect_layout(root)
    budget = 150
    step = next(s for s in range(1, 100)
                if math.prod(-(-d // s) for d in SHAPE) <= budget)  # the smallest that fits
    assert sample_step(SHAPE, budget) == step > 1
    scan = scan_cases(layout, ct=[0], max_voxels=budget)
    for got, (imgs, lab) in zip(scan.foreground[0], vols.values()):
        grid = (slice(None, None, step),) * 3
        np.testing.assert_array_equal(got, imgs[1][grid][lab[grid] != 0])


def test_a_constant_or_missing_foreground_has_no_window():
    with pytest.raises(DataError, match="channel 'CT'.*no label volume holds a foreground"):
        ct_window([np.zeros(0)])
    with pytest.raises(DataError, match=r'percentiles are both 7'):
        ct_window([np.full(10, 7.0)])


def test_label_values_dataset_json_does_not_list(tmp_path):
    vols = _volumes(2)
    root = nnunet_set(tmp_path / 'd', volumes=vols, labels={'background': 0, 'GM': 1},
                      test_cases=0)
    with pytest.raises(DataError, match=r"label volumes hold the values \[2\] that "
                       r"'.*dataset\.json' labels do not list \(0\.\.1\)"):
        volume_plan(detect_layout(root))


@pytest.mark.parametrize('spacings, axis, context', [
    ([(1.0, 1.0, 1.0), (0.9, 0.9, 1.2)], 2, 1),
    ([(0.5, 0.5, 1.5)], 2, 1),           # 3x the in-plane: still close enough
    ([(0.5, 0.5, 1.6)], 2, 0),           # beyond nnU-Net's anisotropy threshold
    ([(5.0, 0.7, 0.7)], 0, 0),           # the through-plane axis is the one sliced along
    ([(5.0, 0.7, 0.7)], 2, 1),           # slices 0.7 mm apart (the slice is anisotropic)
    ([(1.0, 1.0, 1.0), None], 2, 0),     # a .npy volume: no voxel sizes
])
def test_slice_context_follows_the_voxel_sizes(spacings, axis, context):
    from altair.datasets.volume_plan import slice_context
    assert slice_context(spacings, axis).value == context


def test_context_repeats_each_channels_statistics(tmp_path):
    """Voxels of 1 x 1 x 2 mm: context 1, mean and std of each channel repeated for its three
    slices; with voxels of 1 x 1 x 4 mm: none."""
    import nibabel as nib
    for name, sz in (('near', 2.0), ('far', 4.0)):
        root = tmp_path / name
        (root / 'imagesTr').mkdir(parents=True)
        (root / 'labelsTr').mkdir()
        for i in range(2):
            lab = np.zeros((24, 28, 6), np.uint8)
            lab[4:12, 5:15, 1:4] = 1
            img = (np.random.default_rng(i).normal(100, 20, lab.shape) + 200 * lab)
            affine = np.diag([1.0, 1.0, sz, 1.0])
            nib.save(nib.Nifti1Image(img.astype(np.int16), affine),
                     root / 'imagesTr' / f'c{i}.nii.gz')
            nib.save(nib.Nifti1Image(lab, affine), root / 'labelsTr' / f'c{i}.nii.gz')
        plan = volume_plan(detect_layout(root))
        flat = volume_plan(detect_layout(root), context=0)
        want = 1 if sz == 2.0 else 0
        assert plan.data.context == want and plan.in_channels == 2 * want + 1
        assert plan.mean == flat.mean * (2 * want + 1) and plan.std == flat.std * (2 * want + 1)
        assert any(line.startswith(f'context: {want} slice(s)') for line in plan.summary)
