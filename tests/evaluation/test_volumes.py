"""Per-case volume metrics (MONAI's functions) against NumPy counting and an independent SciPy
reimplementation of MONAI's surface definitions."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from altair.evaluation.volumes import (CaseMetricsError, case_metrics, format_table, nan_mean,
                                       summarise)


# --- references computed another way -----------------------------------------------------
def surface(mask: np.ndarray) -> np.ndarray:
    """The voxels of ``mask`` that a 6-connected erosion removes (outside = background)."""
    return mask & ~ndi.binary_erosion(mask, structure=ndi.generate_binary_structure(3, 1),
                                      border_value=0)


def directed(a: np.ndarray, b: np.ndarray, spacing) -> np.ndarray:
    """Distances (mm) from each surface voxel of ``a`` to the nearest surface voxel of ``b``."""
    return ndi.distance_transform_edt(~surface(b), sampling=spacing)[surface(a)]


def scipy_hd95(p, r, spacing) -> float:
    return max(np.percentile(directed(p, r, spacing), 95),
               np.percentile(directed(r, p, spacing), 95))


def scipy_nsd(p, r, spacing, tol) -> float:
    d_pr, d_rp = directed(p, r, spacing), directed(r, p, spacing)
    return ((d_pr <= tol).sum() + (d_rp <= tol).sum()) / (d_pr.size + d_rp.size)


def numpy_dice(p, r) -> float:
    return 2 * np.logical_and(p, r).sum() / (p.sum() + r.sum())


def blobs(seed: int, shape=(22, 26, 18), sigma=2.0) -> np.ndarray:
    """Labels 0, 1, 2 of smoothed noise: irregular, touching, some touching the border."""
    noise = ndi.gaussian_filter(np.random.default_rng(seed).normal(size=shape), sigma)
    return np.digitize(noise, [-0.04, 0.04]).astype(np.uint8)


SPACING = (0.8, 1.1, 2.5)


# --- tests --------------------------------------------------------------------------------
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_dice_hd95_nsd_match_numpy_and_scipy(seed):
    pred, ref = blobs(seed), blobs(seed + 10)
    got = case_metrics(pred, ref, num_classes=3, spacing=SPACING, tolerance=1.7,
                       classes=['bg', 'organ', 'lesion'])
    assert list(got) == ['organ', 'lesion']  # background is not scored
    for c, name in ((1, 'organ'), (2, 'lesion')):
        p, r = pred == c, ref == c
        m = got[name]
        assert (m['n_pred'], m['n_ref']) == (p.sum(), r.sum())
        assert m['Dice'] == pytest.approx(numpy_dice(p, r), abs=1e-6)
        assert m['HD95'] == pytest.approx(scipy_hd95(p, r, SPACING), rel=1e-5)
        assert m['NSD'] == pytest.approx(scipy_nsd(p, r, SPACING, 1.7), abs=1e-6)
        assert 0 < m['NSD'] < 1 and m['HD95'] > 1


def test_anisotropic_spacing_is_used():
    ref = np.zeros((20, 20, 20), np.uint8)
    ref[5:15, 5:15, 5:13] = 1
    pred = np.roll(ref, 2, axis=2)  # shifted 2 voxels along the 3-mm axis
    spacing = (1.0, 1.0, 3.0)
    m = case_metrics(pred, ref, num_classes=2, spacing=spacing, tolerance=4.0)['1']
    iso = case_metrics(pred, ref, num_classes=2, spacing=1.0, tolerance=4.0)['1']
    assert m['HD95'] == pytest.approx(scipy_hd95(pred == 1, ref == 1, spacing), rel=1e-6)
    assert m['HD95'] == pytest.approx(6.0) and iso['HD95'] == pytest.approx(2.0)
    # 6 mm faces are beyond a 4 mm tolerance; 2 voxels at 1 mm are within it
    assert m['NSD'] == pytest.approx(scipy_nsd(pred == 1, ref == 1, spacing, 4.0))
    assert m['NSD'] < 1.0 and iso['NSD'] == 1.0
    assert m['Dice'] == iso['Dice'] == pytest.approx(0.75)


def test_empty_class_conventions():
    ref = np.zeros((12, 12, 12), np.uint8)
    pred = ref.copy()
    ref[2:6, 2:6, 2:6] = 1    # class 1 only in the reference
    pred[7:10, 7:10, 7:10] = 2  # class 2 only in the prediction; class 3 nowhere
    got = case_metrics(pred, ref, num_classes=4, spacing=1.0)
    for name in ('1', '2'):
        assert got[name]['Dice'] == 0.0 and got[name]['NSD'] == 0.0
        assert math.isnan(got[name]['HD95'])
    assert got['1']['n_ref'] == 64 and got['2']['n_pred'] == 27
    assert all(math.isnan(got['3'][m]) for m in ('Dice', 'HD95', 'NSD'))
    assert (got['3']['n_pred'], got['3']['n_ref']) == (0, 0)


def test_ignored_reference_voxels_are_excluded():
    pred, ref = blobs(3), blobs(4)
    ref = ref.copy()
    ref[:, :, :6] = 255
    got = case_metrics(pred, ref, num_classes=3, spacing=SPACING)
    keep = ref != 255
    for c in (1, 2):
        p, r = (pred == c) & keep, (ref == c) & keep
        assert got[str(c)]['n_pred'] == p.sum() < (pred == c).sum()
        assert got[str(c)]['Dice'] == pytest.approx(numpy_dice(p, r), abs=1e-6)
        assert got[str(c)]['HD95'] == pytest.approx(scipy_hd95(p, r, SPACING), rel=1e-5)


@pytest.mark.parametrize('kwargs, message', [
    (dict(spacing=(1.0, 1.0)), 'voxel spacing (1.0, 1.0): give 3 positive sizes'),
    (dict(spacing=(1.0, 0.0, 1.0)), 'give 3 positive sizes'),
    (dict(spacing=1.0, tolerance=-1.0), 'NSD tolerance -1.0 mm'),
    (dict(spacing=1.0, num_classes=1), 'num_classes 1: need an integer >= 2'),
    (dict(spacing=1.0, classes=['a', 'b']), "2 class names ['a', 'b'] for num_classes 3"),
])
def test_bad_options_raise_one_line(kwargs, message):
    kwargs = dict(dict(num_classes=3), **kwargs)
    with pytest.raises(CaseMetricsError) as info:
        case_metrics(blobs(0), blobs(1), **kwargs)
    assert message in str(info.value) and '\n' not in str(info.value)
    with pytest.raises(CaseMetricsError, match='prediction shape'):
        case_metrics(blobs(0), blobs(1)[:-1], num_classes=3, spacing=1.0)


def _case(name, **per_class):
    return dict(case=name, prediction=f'{name}_seg.nii.gz', reference=f'{name}.nii.gz',
                metrics={k: dict(zip(('Dice', 'HD95', 'NSD'), v), n_pred=1, n_ref=1)
                         for k, v in per_class.items()})


def test_summary_means_leave_nan_out():
    nan = math.nan
    cases = [_case('a', liver=(0.8, 2.0, 0.9), tumour=(0.0, nan, 0.0)),
             _case('b', liver=(0.6, 4.0, 0.7), tumour=(nan, nan, nan)),
             _case('c', liver=(nan, nan, nan), tumour=(0.5, 3.0, 0.4))]
    s = summarise(cases)
    assert s['metric_per_case'] == cases
    assert s['mean']['liver'] == pytest.approx(dict(Dice=0.7, HD95=3.0, NSD=0.8))
    # the missed tumour of case a counts in Dice and NSD, not in HD95
    assert s['mean']['tumour'] == pytest.approx(dict(Dice=0.25, HD95=3.0, NSD=0.2))
    assert s['foreground_mean'] == pytest.approx(dict(Dice=0.475, HD95=3.0, NSD=0.5))
    only_nan = summarise([_case('d', x=(nan, nan, nan))])
    assert all(math.isnan(v) for v in only_nan['mean']['x'].values())
    assert all(math.isnan(v) for v in only_nan['foreground_mean'].values())
    assert nan_mean([None, nan, 1.0, 3.0]) == 2.0


def test_format_table_rows_and_columns():
    nan = math.nan
    s = summarise([_case('case_01', liver=(0.81234, 2.345, 0.9), tumour=(0.0, nan, 0.0)),
                   _case('case_02', liver=(0.6, 4.0, 0.7), tumour=(0.5, 3.0, 0.4))])
    lines = format_table(s).splitlines()
    assert lines[0].split() == ['liver', 'tumour']
    assert lines[1].split() == ['case'] + ['Dice', 'HD95', 'mm', 'NSD'] * 2
    assert lines[2].split() == ['case_01', '0.812', '2.35', '0.900', '0.000', '-', '0.000']
    assert lines[4].split() == ['mean', '0.706', '3.17', '0.800', '0.250', '3.00', '0.200']
    assert lines[5] == 'foreground mean: Dice 0.478  HD95 3.09  NSD 0.500'
    # the class headers sit over their columns
    assert lines[0].index('tumour') == lines[2].index('0.000')  # tumour's Dice column
