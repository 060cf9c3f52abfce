"""The typed plan ``altair init`` builds from a folder: class shares, statistics, crop and
split against NumPy on the files written, for one builder per layout, and the spec-list and
split rules both builders share."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from altair.datasets.data_plan import (DataPlan, InitOptionError, SceneData, VolumeData,
                                       floor32, random_split, scene_plan, spec_list,
                                       validation_side)
from altair.datasets.inspect import Pair, detect_layout
from altair.datasets.volume_plan import volume_plan
from tests.datasets.raster_fixtures import write_tif


def _scene(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """One 3-band scene of 320 x 256 with labels 0/1/2 on its grid; returns both arrays."""
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = np.zeros((256, 320), np.uint8)
    labels[20:60, 30:90] = 1
    labels[150:230, 200:300] = 2
    labels[100:110, 10:30] = 1
    img = (rng.normal(80, 10, (3, 256, 320)) + 40 * labels).clip(0, 255).astype(np.uint8)
    write_tif(data / 'scene.tif', img)
    write_tif(data / 'labels.tif', labels)
    return img, labels


def test_scene_plan_against_numpy(tmp_path):
    img, labels = _scene(tmp_path / 'scene')
    data = scene_plan(detect_layout(tmp_path / 'scene'))
    assert isinstance(data, DataPlan) and isinstance(data.data, SceneData)
    assert data.classes.names == ['class_0', 'class_1', 'class_2']
    np.testing.assert_allclose(data.shares, np.bincount(labels.ravel()) / labels.size)
    px = img.reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(data.mean, px.mean(1), atol=1e-4)
    np.testing.assert_allclose(data.std, px.std(1), atol=1e-4)
    assert data.in_channels == 3
    # one scene: blocks of max(2 crop, a quarter of the short side), a quarter held out, the
    # held-out blocks planned and written into the split
    split = data.data.split
    assert split['by'] == 'block' and split['val_fraction'] == 0.25
    assert split['block_size'] == max(2 * data.crop.value, floor32(256 / 4))
    assert data.validation is not None and split['val_blocks'] == data.validation.value
    assert data.data.val_window == (split['block_size'], split['block_size'])
    assert data.data.scenes['train'] == data.data.scenes['val'] == [
        dict(img='scene.tif', ann='labels.tif')]


def test_scene_plan_refuses_footprint_options_for_raster_labels(tmp_path):
    _scene(tmp_path / 'scene')
    with pytest.raises(InitOptionError, match='--class-name'):
        scene_plan(detect_layout(tmp_path / 'scene'), class_name='buildings')


def test_volume_plan_against_numpy(tmp_path):
    data = tmp_path / 'vol'
    (data / 'imagesTr').mkdir(parents=True)
    (data / 'labelsTr').mkdir()
    counts = np.zeros(2)
    for i in range(3):
        lab = np.zeros((40, 72, 6), np.uint8)
        lab[10:20 + i, 12:30, 1:5] = 1
        img = (np.random.default_rng(i).normal(100, 20, lab.shape) + 300 * lab).astype(np.int16)
        np.save(data / 'imagesTr' / f'case{i}.npy', img)
        np.save(data / 'labelsTr' / f'case{i}.npy', lab)
        counts += np.bincount(lab.ravel(), minlength=2)
    plan = volume_plan(detect_layout(data))
    assert isinstance(plan.data, VolumeData) and plan.in_channels == 1
    np.testing.assert_allclose(plan.shares, counts / counts.sum())
    assert plan.crop.value == 32  # the smaller in-plane side (40) down to a multiple of 32
    assert plan.data.split == dict(by='volume', val_fraction=0.2, seed=0)
    assert plan.data.volumes == [dict(img=f'imagesTr/case{i}.npy', ann=f'labelsTr/case{i}.npy')
                                 for i in range(3)]


def test_spec_lists_keep_what_lies_outside_the_root(tmp_path):
    root = tmp_path / 'data'
    pairs = [Pair(str(root / 'a.tif'), str(root / 'sub' / 'a_labels.tif')),
             Pair(str(tmp_path / 'elsewhere.tif'), 'pkg://somepackage/labels.tif')]
    assert spec_list(pairs, root) == [
        dict(img='a.tif', ann='sub/a_labels.tif'),
        dict(img=str(tmp_path / 'elsewhere.tif'), ann='pkg://somepackage/labels.tif')]


@pytest.mark.parametrize('by, items, fraction', [
    ('block', 1, 0.25), ('block', 3, 0.2), ('scene', 1, 0.2), ('volume', 4, 0.2)])
def test_random_split_holds_out_a_quarter_of_one_scene_else_a_fifth(by, items, fraction):
    split = random_split(by, items=items)
    assert split == dict(by=by, val_fraction=fraction, seed=0)


@pytest.mark.parametrize('block, max_side, side', [
    (672, 5400, 672),     # a held-out block is one window: no pixel twice, no cut inside it
    (128, 500, 128),
    (2048, 9000, 1024),   # a block over the largest window: tiles of it
    (None, 1024, None),   # images split whole: validated whole up to 1024 px
    (None, 1025, 512)])
def test_validation_windows_are_the_held_out_blocks(block, max_side, side):
    assert validation_side(block=block, max_side=max_side) == side
