"""``write_nnunet``: a volumes folder written in nnU-Net's raw format, byte for byte (or
linked), read back by ``altair init`` with the same classes, volumes and split; and the
thin tool around it."""
from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from mmengine.config import Config

import altair as alt
from altair.datasets.nnunet import write_nnunet
from altair.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
NAMES = ('ct_b', 'ct_a', 'ct_c')  # listed out of order: cases are sorted by name


def volumes_folder(root: Path, *, suffix: str = '.nii.gz', sidecar: bool = True) -> Path:
    """images/ + labels/ volumes (3 cases, labels 0..2) and a classes.json."""
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    for i, name in enumerate(NAMES):
        rng = np.random.default_rng(i)
        lab = np.zeros((40, 36, 5), np.uint8)
        lab[5:20 + i, 4:20, 1:4] = 1
        lab[25:35, 22:30, :] = 2
        img = (rng.normal(50, 10, lab.shape) + 80 * lab).astype(np.int16)
        affine = np.diag([0.8, 0.8, 2.5, 1.0])
        nib.save(nib.Nifti1Image(img, affine), root / 'images' / f'{name}{suffix}')
        nib.save(nib.Nifti1Image(lab, affine), root / 'labels' / f'{name}{suffix}')
    if sidecar:
        (root / 'classes.json').write_text(json.dumps(
            [dict(value=0, name='background'), dict(value=1, name='liver'),
             dict(value=2, name='spleen')]))
    return root


def _config(data: Path, out: Path):
    return Config.fromfile(str(alt.init(data, iters=2, file=out).config))


@pytest.mark.parametrize('link', [False, True])
def test_init_reads_back_what_init_read(tmp_path, link):
    src = volumes_folder(tmp_path / 'src')
    dst = write_nnunet(src, tmp_path / 'dst', link=link)
    spec = json.loads((dst / 'dataset.json').read_text())
    assert spec['channel_names'] == {'0': 'image'} and spec['file_ending'] == '.nii.gz'
    assert spec['labels'] == {'background': 0, 'liver': 1, 'spleen': 2}
    assert spec['numTraining'] == 3
    for name in NAMES:
        for a, b in ((src / 'images' / f'{name}.nii.gz', dst / 'imagesTr' / f'{name}_0000.nii.gz'),
                     (src / 'labels' / f'{name}.nii.gz', dst / 'labelsTr' / f'{name}.nii.gz')):
            assert filecmp.cmp(a, b, shallow=False)
            assert b.is_symlink() == link
            if link:
                assert os.readlink(b) == str(a.resolve())
    before, after = _config(src, tmp_path / 'a.py'), _config(dst, tmp_path / 'b.py')
    assert after.classes == before.classes == ['background', 'liver', 'spleen']
    assert after.split == before.split and after.normalize == before.normalize
    assert (after.mean, after.std, after.crop_size) == (before.mean, before.std,
                                                        before.crop_size)
    assert after.model.backbone.in_channels == before.model.backbone.in_channels == 1
    # the same volumes, in the same order (so the seeded split holds out the same ones)
    assert [v['img'] for v in before.volumes] == [f'images/{n}.nii.gz' for n in sorted(NAMES)]
    assert [v['img'] for v in after.volumes] == [f'imagesTr/{n}_0000.nii.gz'
                                                 for n in sorted(NAMES)]
    assert [v['ann'] for v in after.volumes] == [f'labelsTr/{n}.nii.gz' for n in sorted(NAMES)]


def test_nii_keeps_its_ending_and_classes_without_a_sidecar(tmp_path):
    src = volumes_folder(tmp_path / 'src', suffix='.nii', sidecar=False)
    dst = write_nnunet(src, tmp_path / 'dst', channel_names=['CT'])
    spec = json.loads((dst / 'dataset.json').read_text())
    assert spec['file_ending'] == '.nii' and spec['channel_names'] == {'0': 'CT'}
    assert spec['labels'] == {'class_0': 0, 'class_1': 1, 'class_2': 2}
    assert sorted(p.name for p in (dst / 'imagesTr').iterdir()) == [
        f'{n}_0000.nii' for n in sorted(NAMES)]
    assert _config(dst, tmp_path / 'b.py').normalize['mode'] == 'window'  # a CT channel


def test_refusals_are_one_line(tmp_path):
    src = volumes_folder(tmp_path / 'src')
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'x').write_text('')
    cases = [(tmp_path / 'full', None, "nnU-Net output folder '{}' exists and is not empty")]
    nib.save(nib.Nifti1Image(np.zeros((40, 36, 5), np.uint8), np.eye(4)),
             src / 'labels' / 'ct_a.nii')
    (src / 'labels' / 'ct_a.nii.gz').unlink()
    cases.append((tmp_path / 'd1', None, 'the volumes mix endings'))
    for dst, names, text in cases:
        with pytest.raises(DataError) as info:
            write_nnunet(src, dst, channel_names=names)
        assert '\n' not in str(info.value) and text.format(dst) in str(info.value)
    npy = tmp_path / 'npy'
    for sub in ('images', 'labels'):
        (npy / sub).mkdir(parents=True)
        for i in range(2):
            np.save(npy / sub / f'v{i}.npy', np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"v0\.npy' is a \.npy volume; nnU-Net reads NIfTI"):
        write_nnunet(npy, tmp_path / 'd2')
    with pytest.raises(DataError, match='give one name'):
        write_nnunet(src, tmp_path / 'd3', channel_names=['T1', 'T2'])
    assert not (tmp_path / 'd1').exists() and not (tmp_path / 'd2').exists()


def test_the_tool_writes_and_refuses(tmp_path):
    src = volumes_folder(tmp_path / 'src')
    tool = ROOT / 'tools' / 'dataset_converters' / 'volumes_to_nnunet.py'
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ok = subprocess.run([sys.executable, str(tool), str(src), str(tmp_path / 'dst'), '--link'],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / 'dst' / 'labelsTr' / 'ct_a.nii.gz').is_symlink()
    again = subprocess.run([sys.executable, str(tool), str(src), str(tmp_path / 'dst')],
                           capture_output=True, text=True, env=env)
    errors = [ln for ln in again.stderr.splitlines() if ln.startswith('error:')]
    assert again.returncode == 2 and len(errors) == 1 and 'is not empty' in errors[0]
