"""VolumeSliceDataset(oversample=...): centred slices and crops, against the label volumes."""
from __future__ import annotations

import numpy as np
import pytest

from altair.datasets.transforms import CentredRandomCrop
from altair.datasets.volume import LoadVolumeSlice, VolumeSliceDataset
from altair.raster.errors import VolumeError

SHAPE = (12, 32, 32)  # slices along axis 0: (32, 32)
CROP = 8
CLASSES = ('background', 'organ', 'lesion')
LESION = [(3, 5, 27), (8, 16, 16), (8, 16, 17), (10, 31, 0)]  # one voxel on a corner


def volumes(root) -> list[dict]:
    """Two volumes; every voxel of an image its own value, so a crop tells where it came from.
    An organ block on most slices; a few lesion voxels (the second volume: shifted)."""
    out = []
    for v in range(2):
        img = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE) + v * 1e6
        lab = np.zeros(SHAPE, np.uint8)
        lab[1:11, 20:30, 2:12] = 1
        for k, r, c in LESION:
            lab[k, (r + v) % 32, c] = 2
        np.save(root / f'img{v}.npy', img)
        np.save(root / f'lab{v}.npy', lab)
        out.append(dict(img=f'img{v}.npy', ann=f'lab{v}.npy'))
    return out


def dataset(root, **kwargs) -> VolumeSliceDataset:
    return VolumeSliceDataset(volumes=volumes(root), classes=CLASSES, axis=0,
                              data_root=str(root), **kwargs)


def crop_of(ds: VolumeSliceDataset, i: int) -> tuple[dict, dict]:
    """(data info, sample after LoadVolumeSlice + CentredRandomCrop)."""
    info = ds.get_data_info(i)
    return info, CentredRandomCrop(crop_size=CROP)(LoadVolumeSlice()(dict(info)))


def label_at(info: dict) -> np.ndarray:
    return np.load(info['seg_map_path'])


def test_share_one_centres_every_crop_on_a_rare_voxel(tmp_path):
    ds = dataset(tmp_path, skip_empty=True, oversample=dict(share=1.0))
    assert ds.rare_classes == (1, 2)  # background is the most frequent
    np.random.seed(0)
    classes = []
    for n in range(400):
        info, out = crop_of(ds, n % len(ds))
        k, (r, c) = info['slice_index'], info['crop_centre']
        value = label_at(info)[k, r, c]
        assert value in (1, 2)
        # where the centre voxel's own image value lies in the crop
        hit = np.argwhere(out['img'][..., 0] == np.load(info['img_path'])[k, r, c])
        assert len(hit) == 1
        y, x = hit[0]
        assert out['gt_seg_map'][y, x] == value
        if CROP // 2 <= r <= 32 - CROP // 2 and CROP // 2 <= c <= 32 - CROP // 2:
            assert (y, x) == (CROP // 2, CROP // 2)
        classes.append(value)
    # the class is drawn uniformly, not by its voxel count (organ: ~250x the lesion's)
    share = np.mean(np.asarray(classes) == 2)
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / len(classes))


def test_given_classes_only(tmp_path):
    ds = dataset(tmp_path, oversample=dict(share=1.0, classes=[2]))
    assert ds.rare_classes == (2,)
    np.random.seed(1)
    found = set()
    for n in range(200):
        info = ds.get_data_info(n % len(ds))
        k, (r, c) = info['slice_index'], info['crop_centre']
        assert label_at(info)[k, r, c] == 2
        shift = int(info['img_path'].endswith('img1.npy'))
        found.add((k, (r - shift) % 32, c))
    assert found == set(LESION)  # every lesion voxel of both volumes gets drawn


def rare_rate(ds: VolumeSliceDataset, n: int, seed: int) -> float:
    np.random.seed(seed)
    hits = 0
    for i in range(n):
        _, out = crop_of(ds, int(np.random.randint(len(ds))))
        hits += bool((out['gt_seg_map'] == 2).any())
    return hits / n


def test_a_third_of_the_crops_are_centred(tmp_path):
    n = 3000
    uniform = rare_rate(dataset(tmp_path, oversample=dict(share=0, classes=[2])), n, seed=2)
    rate = rare_rate(dataset(tmp_path, oversample=dict(share=1 / 3, classes=[2])), n, seed=3)
    want = 1 / 3 + 2 / 3 * uniform
    sigma = np.sqrt(want * (1 - want) / n + (2 / 3) ** 2 * uniform * (1 - uniform) / n)
    assert 0 < uniform < 0.2
    assert abs(rate - want) < 4 * sigma, (rate, want, uniform)


def test_share_zero_gives_the_samples_without_the_option(tmp_path):
    pipeline = [dict(type='LoadVolumeSlice'), dict(type='CentredRandomCrop', crop_size=CROP)]
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('altair'):
        plain = dataset(tmp_path, skip_empty=True, pipeline=pipeline)
        zero = dataset(tmp_path, skip_empty=True, pipeline=pipeline,
                       oversample=dict(share=0.0))
        on = dataset(tmp_path, skip_empty=True, pipeline=pipeline,
                     oversample=dict(share=0.5))
    runs = {}
    for name, ds in (('plain', plain), ('zero', zero), ('on', on)):
        np.random.seed(7)
        runs[name] = [ds[i % len(ds)]['img'].copy() for i in range(40)]
        runs[name].append(np.random.randint(1 << 30))  # the stream after them
    assert all(np.array_equal(a, b) for a, b in zip(runs['plain'], runs['zero']))
    assert not all(np.array_equal(a, b) for a, b in zip(runs['plain'], runs['on']))
    assert all('crop_centre' not in zero.get_data_info(i) for i in range(len(zero)))


def test_the_val_subset_is_not_oversampled(tmp_path):
    ds = dataset(tmp_path, split=dict(by='volume', val_fraction=0.5, seed=0), subset='val',
                 oversample=dict(share=1.0))
    np.random.seed(0)
    assert all('crop_centre' not in ds.get_data_info(i) for i in range(len(ds)))
    assert ds.rare_classes == ()


@pytest.mark.parametrize('option, message', [
    (dict(share=1.5), r'VolumeSliceDataset oversample share 1.5: give a fraction in \[0, 1\]'),
    (dict(share=True), r'VolumeSliceDataset oversample share True: give a fraction'),
    (dict(classes=[3]), r'VolumeSliceDataset oversample classes: 3 is not a class index; '
                        r'give indices in \[0, 2\] or None'),
    (dict(shares=0.3), r"VolumeSliceDataset oversample key 'shares': choose share or classes"),
    ('third', r"VolumeSliceDataset oversample 'third': give dict\(share=1/3, classes=None\)"),
])
def test_bad_oversample_options_are_refused(tmp_path, option, message):
    with pytest.raises(VolumeError, match=message) as info:
        dataset(tmp_path, oversample=option)
    assert '\n' not in str(info.value)
