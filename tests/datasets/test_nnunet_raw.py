"""nnU-Net's raw dataset format read as a volumes layout: dataset.json's channels and labels,
channel files grouped into cases, imagesTs/ as the cases to predict, and one-line errors for
each way a folder can leave the format."""
from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from altair.datasets.inspect import detect_layout
from altair.datasets.nnunet_raw import NnunetFormatError, read_dataset_json

SHAPE = (12, 14, 5)


def nnunet_set(root: Path, *, channels=('T1', 'T2'), cases=3, test_cases=1, seed=0,
               labels=None, ending='.nii.gz', volumes=None) -> Path:
    """An nnU-Net raw dataset of ``cases`` training cases named ``la_000``, ... (one random
    int16 volume per channel, a 0/1/2 label) and ``test_cases`` cases in imagesTs/.
    ``volumes``: ``{case: (channel arrays, label)}`` written instead of random ones."""
    rng = np.random.default_rng(seed)
    for sub in ('imagesTr', 'labelsTr') + (('imagesTs',) if test_cases else ()):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if volumes is None:
        volumes = {}
        for i in range(cases):
            lab = np.zeros(SHAPE, np.uint8)
            lab[2:7, 3:9, 1:4] = 1
            lab[8:11, 9:12, 2:5] = 2
            imgs = [(rng.normal(100 * (c + 1), 20, SHAPE) + (50 + 10 * c) * lab)
                    .astype(np.int16) for c in range(len(channels))]
            volumes[f'la_{i:03d}'] = (imgs, lab)
    for case, (imgs, lab) in volumes.items():
        for c, img in enumerate(imgs):
            nib.save(nib.Nifti1Image(img, np.eye(4)), root / 'imagesTr' / f'{case}_{c:04d}{ending}')
        nib.save(nib.Nifti1Image(lab, np.eye(4)), root / 'labelsTr' / f'{case}{ending}')
    for i in range(test_cases):
        for c in range(len(channels)):
            nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.int16), np.eye(4)),
                     root / 'imagesTs' / f'ts_{i:03d}_{c:04d}{ending}')
    (root / 'dataset.json').write_text(json.dumps(dict(
        channel_names={str(c): n for c, n in enumerate(channels)},
        labels=labels or {'background': 0, 'GM': 1, 'WM': 2},
        numTraining=len(volumes), file_ending=ending)))
    return root


def test_the_layout_groups_channel_files_into_cases(tmp_path):
    root = nnunet_set(tmp_path / 'd', labels={'WM': 2, 'background': 0, 'GM': 1})
    layout = detect_layout(root)
    assert layout.kind == 'volumes' and layout.title.startswith('(e) nnU-Net raw')
    assert layout.channels == ['T1', 'T2']
    assert layout.class_names == ['background', 'GM', 'WM']  # ordered by value
    assert [p.img for p in layout.pairs] == [
        [str(root / 'imagesTr' / f'la_{i:03d}_{c:04d}.nii.gz') for c in range(2)]
        for i in range(3)]
    assert [p.ann for p in layout.pairs] == [str(root / 'labelsTr' / f'la_{i:03d}.nii.gz')
                                             for i in range(3)]
    assert layout.predict == [[str(root / 'imagesTs' / f'ts_000_{c:04d}.nii.gz')
                               for c in range(2)]]


def test_one_channel_cases_are_plain_image_paths(tmp_path):
    root = nnunet_set(tmp_path / 'd', channels=('CT',), test_cases=0, ending='.nii')
    layout = detect_layout(root)
    assert layout.channels == ['CT'] and layout.predict == []
    assert [p.img for p in layout.pairs] == [str(root / 'imagesTr' / f'la_{i:03d}_0000.nii')
                                             for i in range(3)]


def _one_line(exc) -> str:
    msg = str(exc.value)
    assert '\n' not in msg, msg
    return msg


def test_a_case_missing_a_channel_file(tmp_path):
    root = nnunet_set(tmp_path / 'd')
    (root / 'imagesTr' / 'la_001_0001.nii.gz').unlink()
    with pytest.raises(NnunetFormatError) as info:
        detect_layout(root)
    msg = _one_line(info)
    assert "case 'la_001' has no channel 1 (T2)" in msg
    assert f"'{root / 'imagesTr' / 'la_001_0001.nii.gz'}' is missing" in msg
    assert 'channel_names lists 2 channel(s)' in msg


def test_a_label_file_without_images_and_images_without_labels(tmp_path):
    root = nnunet_set(tmp_path / 'd')
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.uint8), np.eye(4)),
             root / 'labelsTr' / 'orphan.nii.gz')
    with pytest.raises(NnunetFormatError) as info:
        detect_layout(root)
    assert (f"label file '{root / 'labelsTr' / 'orphan.nii.gz'}' of case 'orphan' has no "
            'image files') in _one_line(info)
    (root / 'labelsTr' / 'orphan.nii.gz').unlink()
    (root / 'labelsTr' / 'la_002.nii.gz').unlink()
    with pytest.raises(NnunetFormatError) as info:
        detect_layout(root)
    assert "case 'la_002'" in _one_line(info) and 'has no label file' in str(info.value)


def test_extra_channels_and_misnamed_files(tmp_path):
    root = nnunet_set(tmp_path / 'd', channels=('T1',))
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.int16), np.eye(4)),
             root / 'imagesTr' / 'la_000_0001.nii.gz')
    with pytest.raises(NnunetFormatError, match=r"la_000_0001\.nii\.gz' is channel 1 but "
                       r'dataset.json channel_names lists 1 channel'):
        detect_layout(root)
    (root / 'imagesTr' / 'la_000_0001.nii.gz').rename(root / 'imagesTr' / 'la_000.nii.gz')
    with pytest.raises(NnunetFormatError, match=r"la_000\.nii\.gz' is not named "
                       r'<case>_XXXX\.nii\.gz'):
        detect_layout(root)


@pytest.mark.parametrize('change, named', [
    (dict(channel_names=['T1']), "key 'channel_names' is [\"T1\"]; expected an object"),
    (dict(channel_names={'1': 'T1'}), "key 'channel_names' has the keys ['1']"),
    (dict(channel_names={'0': 3}), "key 'channel_names' entry '0' is 3"),
    (dict(labels={'background': 0, 'GM': 2}), "key 'labels' entry 'GM' is 2; expected the "
     'values 0..1'),
    (dict(labels={'background': 0, 'GM': 1, 'WM': 1}), "key 'labels' entry 'GM' is 1"),
    (dict(labels={'background': 0, 'GM': [1, 2]}), "key 'labels' entry 'GM' is [1, 2]; "
     'expected an integer'),
    (dict(labels={'background': '0', 'GM': 1}), "key 'labels' entry 'background' is \"0\""),
    (dict(file_ending='.vol'), "key 'file_ending' is '.vol'"),
    (dict(numTraining=7), "key 'numTraining' is 7 but"),
    (dict(numTraining='3'), "key 'numTraining' is '3'"),
])
def test_a_malformed_dataset_json_names_the_key(tmp_path, change, named):
    root = nnunet_set(tmp_path / 'd', test_cases=0)
    spec = json.loads((root / 'dataset.json').read_text())
    (root / 'dataset.json').write_text(json.dumps(dict(spec, **change)))
    with pytest.raises(NnunetFormatError) as info:
        detect_layout(root)
    msg = _one_line(info)
    assert str(root / 'dataset.json') in msg and named in msg, msg


def test_dataset_json_that_is_not_json(tmp_path):
    (tmp_path / 'dataset.json').write_text('{"channel_names": ')
    with pytest.raises(NnunetFormatError, match=r"cannot read '.*dataset\.json': Expecting "):
        read_dataset_json(tmp_path / 'dataset.json')
    (tmp_path / 'dataset.json').write_text('[1, 2]')
    with pytest.raises(NnunetFormatError, match='holds a list; expected a JSON object'):
        read_dataset_json(tmp_path / 'dataset.json')
