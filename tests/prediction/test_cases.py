"""How ``alt.predict``'s ``images`` name volume cases (``altair.prediction.cases``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from altair.prediction.cases import VolumeCase, group_channels, volume_cases
from altair.prediction.options import PredictOptionError
from altair.raster.errors import ImageNotFoundError


def touch(folder: Path, *names: str) -> list[Path]:
    """Small valid volumes of those names (each is opened before any model loads)."""
    import nibabel as nib
    import numpy as np
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        data = np.zeros((4, 5, 3), np.int16)
        if n.endswith('.npy'):
            np.save(folder / n, data)
        else:
            nib.save(nib.Nifti1Image(data, np.eye(4)), folder / n)
    return [folder / n for n in names]


def test_channel_files_group_into_cases_in_channel_order(tmp_path):
    files = touch(tmp_path / 'imagesTs', 'b_0001.nii.gz', 'a_0000.nii.gz', 'b_0000.nii.gz',
                  'a_0001.nii.gz', 'c.nii')
    got = volume_cases(tmp_path / 'imagesTs')
    assert [(s, [f.name for f in c.files]) for s, c in got] == [
        ('a', ['a_0000.nii.gz', 'a_0001.nii.gz']), ('b', ['b_0000.nii.gz', 'b_0001.nii.gz']),
        ('c', ['c.nii'])]
    assert got[0][1].spec() == [str(files[1]), str(files[3])]
    assert str(got[2][1]) == str(tmp_path / 'imagesTs' / 'c.nii')


def test_a_case_id_a_glob_and_a_nested_list(tmp_path):
    folder = tmp_path / 'imagesTs'
    touch(folder, 'la_003_0000.nii.gz', 'la_003_0001.nii.gz', 'la_0031_0000.nii.gz', 't1.npy',
          't2.npy')
    [(stem, case)] = volume_cases(str(folder / 'la_003'))
    assert stem == 'la_003' and [f.name for f in case.files] == ['la_003_0000.nii.gz',
                                                                   'la_003_0001.nii.gz']
    assert [s for s, _ in volume_cases(str(folder / '*.nii.gz'))] == ['la_003', 'la_0031']
    [(stem, case)] = volume_cases([[folder / 't2.npy', folder / 't1.npy']])
    assert stem == 't2' and [f.name for f in case.files] == ['t2.npy', 't1.npy']


def test_two_images_or_arrays_are_not_volumes(tmp_path, crop):
    import numpy as np
    assert volume_cases(crop) is None
    assert volume_cases(np.zeros((4, 4))) is None
    assert volume_cases(str(tmp_path / 'missing')) is None  # the image path reports it


def test_same_case_name_in_two_folders_gets_the_folder_name(tmp_path):
    touch(tmp_path / 'site1', 'x.nii.gz')
    touch(tmp_path / 'site2', 'x.nii.gz')
    assert [s for s, _ in volume_cases(tmp_path)] == ['site1_x', 'site2_x']


def test_a_gap_in_the_channels_names_the_missing_file(tmp_path):
    files = touch(tmp_path, 'k_0000.nii.gz', 'k_0002.nii.gz')
    with pytest.raises(PredictOptionError, match=r"case 'k' has channel files _0000, _0002 "
                                                 r"but not '.*k_0001.nii.gz'"):
        group_channels(files)


def test_mixing_volumes_and_images_is_one_line(tmp_path, crop):
    [vol] = touch(tmp_path, 'v.nii.gz')
    with pytest.raises(PredictOptionError, match="is not a volume"):
        volume_cases([vol, crop])


def test_an_empty_volume_folder_inside_a_list_is_reported(tmp_path):
    [vol] = touch(tmp_path / 'a', 'v.nii.gz')
    (tmp_path / 'empty').mkdir()
    with pytest.raises((PredictOptionError, ImageNotFoundError)):
        volume_cases([vol, tmp_path / 'empty'])


def test_a_case_is_matched_by_its_first_file():
    case = VolumeCase('x', (Path('/d/x_0000.nii.gz'), Path('/d/x_0001.nii.gz')))
    assert str(case) == '/d/x_0000.nii.gz'
