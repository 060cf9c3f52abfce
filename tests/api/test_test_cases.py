"""Scoring predicted volumes per case from files: pairing with references (a folder, a config,
a run), grid checks, summary.json, the API and the CLI."""
from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from altair.api import test_cases as tc
from altair.api.runs import create_run
from altair.api.test import test as alt_test
from altair.cli import main
from altair.datasets.sample_data import mni_template
from altair.raster.errors import VolumeError
from tests.evaluation.test_volumes import blobs, numpy_dice, scipy_hd95, scipy_nsd

SPACING = (0.8, 1.1, 2.5)
AFFINE = np.diag(SPACING + (1.0,))
CLASSES = ['background', 'organ', 'lesion']


def nifti(path: Path, arr: np.ndarray, affine=AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(arr, affine).to_filename(str(path))
    return path


def strict_json(path: Path):
    """The JSON file, refusing NaN / Infinity (not JSON)."""
    def refuse(name):
        raise ValueError(f'{name} in {path}')
    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture()
def data(tmp_path):
    """Two cases: ``a`` NIfTI (anisotropic voxels), ``b`` .npy with no lesion anywhere."""
    pred_a, ref_a = blobs(0), blobs(10)
    pred_b, ref_b = np.minimum(blobs(1), 1), np.minimum(blobs(11), 1)
    nifti(tmp_path / 'labels' / 'a.nii.gz', ref_a)
    nifti(tmp_path / 'cases' / 'a_seg.nii.gz', pred_a)
    np.save(tmp_path / 'labels' / 'b.npy', ref_b)
    np.save(tmp_path / 'cases' / 'b_seg.npy', pred_b)
    (tmp_path / 'cases' / 'notes.txt').write_text('not a volume')
    nifti(tmp_path / 'cases' / 'a.nii.gz', ref_a)  # not a prediction: no _seg
    return dict(a=(pred_a, ref_a), b=(pred_b, ref_b), root=tmp_path)


def check_scores(summary: dict, data: dict, names=CLASSES) -> None:
    per_case = {c['case']: c for c in summary['metric_per_case']}
    assert list(per_case) == ['a', 'b']
    for case, spacing in (('a', SPACING), ('b', (1.0, 1.0, 1.0))):
        pred, ref = data[case]
        assert per_case[case]['spacing'] == pytest.approx(spacing)
        for c in (1, 2):
            m = per_case[case]['metrics'][names[c]]
            p, r = pred == c, ref == c
            if not (p.any() or r.any()):
                assert math.isnan(m['Dice']) and (m['n_pred'], m['n_ref']) == (0, 0)
                continue
            assert m['Dice'] == pytest.approx(numpy_dice(p, r), abs=1e-6)
            assert m['HD95'] == pytest.approx(scipy_hd95(p, r, spacing), rel=1e-5)
            assert m['NSD'] == pytest.approx(scipy_nsd(p, r, spacing, 1.7), abs=1e-6)
    organ = [per_case[k]['metrics'][names[1]]['Dice'] for k in 'ab']
    assert summary['mean'][names[1]]['Dice'] == pytest.approx(np.mean(organ))
    # case b has no lesion at all: the lesion mean is case a's alone
    assert summary['mean'][names[2]]['Dice'] == per_case['a']['metrics'][names[2]]['Dice']


def test_folder_references_scored_and_summary_written(data):
    root = data['root']
    summary = tc.test_cases(root / 'cases', labels=root / 'labels', classes=CLASSES,
                            tolerance=1.7)
    check_scores(summary, data)
    written = strict_json(root / 'cases' / 'summary.json')
    assert written['metric_per_case'][1]['metrics']['lesion']['Dice'] is None  # NaN -> null
    assert written['mean']['organ']['Dice'] == pytest.approx(summary['mean']['organ']['Dice'])
    assert written['tolerance_mm'] == 1.7
    assert written['metric_per_case'][0]['reference'] == str(root / 'labels' / 'a.nii.gz')


def test_classes_default_to_label_values_and_out_folder(data):
    root = data['root']
    summary = tc.test_cases(root / 'cases', labels=root / 'labels', tolerance=1.7,
                            out=root / 'scores')
    check_scores(summary, data, names=['0', '1', '2'])
    assert strict_json(root / 'scores' / 'summary.json')['mean'].keys() == {'1', '2'}
    assert not (root / 'cases' / 'summary.json').exists()


def volume_config(root: Path) -> str:
    """A config whose train / val subsets split the two volumes, with the classes."""
    dataset = dict(type='VolumeSliceDataset', data_root=str(root), classes=CLASSES,
                   volumes=[dict(img='images/a.nii.gz', ann='labels/a.nii.gz'),
                            dict(img='images/b.npy', ann='labels/b.npy')],
                   split=dict(by='volume', val_fraction=0.5, seed=0))
    return (f"train_dataloader = dict(dataset=dict({dataset!r}, subset='train'))\n"
            f"val_dataloader = dict(dataset=dict({dataset!r}, subset='val'))\n")


def test_config_references_every_subset(data):
    root = data['root']
    path = root / 'cfg.py'
    path.write_text(volume_config(root))
    summary = alt_test(str(path), cases=root / 'cases', tolerance=1.7)
    check_scores(summary, data)


def test_run_config_and_glob_references(data):
    root = data['root']
    run = create_run('volumes', root=root / 'runs')
    dataset = dict(type='VolumeSliceDataset', data_root=str(root), classes=CLASSES,
                   img_glob='labels/*.*', ann_pattern='labels/{stem}.nii.gz')
    (run.dir / 'config.py').write_text(f'test_dataloader = dict(dataset={dataset!r})\n')
    (root / 'labels' / 'b.npy').rename(root / 'b.npy')
    nifti(root / 'labels' / 'b.nii.gz', data['b'][1], affine=np.eye(4))
    summary = alt_test(run.id, cases=root / 'cases', root=root / 'runs', tolerance=1.7)
    check_scores(summary, data)


def test_mni_grey_white_shifted_one_voxel(tmp_path):
    _, gm, wm = mni_template()
    img = nib.load(str(gm))
    labels = np.zeros(img.shape, np.uint8)
    labels[np.asarray(img.dataobj) > 0.5] = 1
    labels[np.asarray(nib.load(str(wm)).dataobj) > 0.5] = 2
    shifted = np.roll(labels, 1, axis=0)  # the template's border is background
    nifti(tmp_path / 'labels' / 'mni.nii.gz', labels, affine=img.affine)
    nifti(tmp_path / 'cases' / 'mni_seg.nii.gz', shifted, affine=img.affine)
    summary = tc.test_cases(tmp_path / 'cases', labels=tmp_path / 'labels',
                            classes=['background', 'grey', 'white'], tolerance=1.0)
    metrics = summary['metric_per_case'][0]['metrics']
    for c, name in ((1, 'grey'), (2, 'white')):
        m = metrics[name]
        assert m['Dice'] == pytest.approx(numpy_dice(shifted == c, labels == c), abs=1e-6)
        assert 0.5 < m['Dice'] < 1
        # a one-voxel shift (1 mm voxels) keeps every surface voxel within 1 mm of the other
        assert m['NSD'] == 1.0 and 0 < m['HD95'] <= 1.0


def test_unpaired_ambiguous_and_out_of_range_labels(data):
    root = data['root']
    np.save(root / 'cases' / 'c_seg.npy', data['b'][0])
    with pytest.raises(VolumeError, match=r"predicted volume '.*c_seg.npy' has no reference "
                                          r"label volume: no 'c' among '.*labels/<case>"):
        tc.test_cases(root / 'cases', labels=root / 'labels')
    (root / 'cases' / 'c_seg.npy').unlink()
    np.save(root / 'labels' / 'a.npy', data['a'][1])
    with pytest.raises(VolumeError, match="case 'a' has two reference label volumes"):
        tc.test_cases(root / 'cases', labels=root / 'labels')
    (root / 'labels' / 'a.npy').unlink()
    with pytest.raises(VolumeError, match=r"predicted volume '.*a_seg.nii.gz' holds the "
                                          r'label 2; the classes are 0..1'):
        tc.test_cases(root / 'cases', labels=root / 'labels', classes=['bg', 'organ'])


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(['test', *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_prints_table_and_summary_path(data, capsys):
    root = data['root']
    code, out, err = run_cli(capsys, '--cases', root / 'cases', '--labels', root / 'labels',
                             '--tolerance', 1.7)
    lines = out.splitlines()
    assert code == 0 and lines[-1] == str(root / 'cases' / 'summary.json')
    assert [line.split()[0] for line in lines[2:4]] == ['a', 'b'] and lines[4].startswith('mean')
    saved = strict_json(root / 'cases' / 'summary.json')
    assert f"{saved['mean']['1']['Dice']:.3f}" in lines[4]


def test_cli_shape_and_affine_mismatch_exit_2(data, capsys):
    root = data['root']
    nifti(root / 'cases' / 'a_seg.nii.gz', data['a'][0][:, :, :-1])
    code, _, err = run_cli(capsys, '--cases', root / 'cases', '--labels', root / 'labels')
    assert code == 2 and err.count('\n') == 1
    assert err == (f"error: predicted volume '{root / 'cases' / 'a_seg.nii.gz'}' has shape "
                   f"(22, 26, 17) but its reference '{root / 'labels' / 'a.nii.gz'}' has "
                   "shape (22, 26, 18); predict on the reference's grid\n")
    moved = AFFINE.copy()
    moved[0, 3] = 0.01
    nifti(root / 'cases' / 'a_seg.nii.gz', data['a'][0], affine=moved)
    code, _, err = run_cli(capsys, '--cases', root / 'cases', '--labels', root / 'labels')
    assert code == 2 and err.count('\n') == 1
    assert err.startswith(f"error: predicted volume '{root / 'cases' / 'a_seg.nii.gz'}' and "
                          f"its reference '{root / 'labels' / 'a.nii.gz'}' have different "
                          'affines (largest difference 0.01)')
    moved[0, 3] = 5e-5  # within the tolerance of a float32 header
    nifti(root / 'cases' / 'a_seg.nii.gz', data['a'][0], affine=moved)
    assert run_cli(capsys, '--cases', root / 'cases', '--labels', root / 'labels')[0] == 0


def test_cli_needs_references(data, capsys):
    root = data['root']
    code, _, err = run_cli(capsys, '--cases', root / 'cases')
    assert code == 2 and 'needs RUN (its classes and labels) or --labels DIR' in err
    code, _, err = run_cli(capsys, '--labels', root / 'labels')
    assert code == 2 and '--labels goes with --cases DIR' in err


def test_a_volume_test_set_is_predicted_and_scored_per_case(volume_model, tmp_path):
    """``alt.test`` on a volume config: the val cases predicted whole and scored; Dice
    recounted with NumPy from the predicted and reference files."""
    import nibabel as nib

    import altair as alt
    config, ckpt, cases = volume_model
    summary = alt.test(config, ckpt, work_dir=str(tmp_path))
    [row] = summary['metric_per_case']  # 3 volumes, one held out
    assert Path(row['prediction']).parent == tmp_path / 'cases'
    pred = np.asanyarray(nib.load(row['prediction']).dataobj)
    ref = np.asanyarray(nib.load(row['reference']).dataobj)
    both = 2 * np.sum((pred == 1) & (ref == 1)) / (np.sum(pred == 1) + np.sum(ref == 1))
    [name] = row['metrics']
    assert row['metrics'][name]['Dice'] == pytest.approx(both)
    assert (tmp_path / 'summary.json').is_file()


def test_nrrd_cases_are_scored_with_their_header_spacing(tmp_path):
    """NRRD predictions and references (SimpleITK): read, and scored with the reference's
    voxel sizes (a box shifted 2 voxels along a 3 mm axis: HD95 6 mm, not 2)."""
    from altair.raster.itk import write_itk_like
    geometry = dict(spacing=(1.0, 1.0, 3.0), origin=(0.0, 0.0, 0.0),
                    direction=(1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    ref = np.zeros((12, 12, 12), np.uint8)
    ref[3:9, 3:9, 3:7] = 1
    (tmp_path / 'labels').mkdir()
    (tmp_path / 'cases').mkdir()
    write_itk_like(ref, geometry, tmp_path / 'labels' / 'box.nrrd')
    write_itk_like(np.roll(ref, 2, axis=2), geometry, tmp_path / 'cases' / 'box_seg.nrrd')
    summary = tc.test_cases(tmp_path / 'cases', labels=tmp_path / 'labels',
                            classes=['background', 'box'])
    [row] = summary['metric_per_case']
    assert row['spacing'] == [1.0, 1.0, 3.0]
    assert row['metrics']['box']['HD95'] == pytest.approx(6.0)
