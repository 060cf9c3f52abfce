"""CentredRandomCrop against mmseg's RandomCrop and against indexing of a known image."""
from __future__ import annotations

import numpy as np
import pytest
from mmseg.datasets.transforms import RandomCrop

from altair.datasets.transforms import CentredRandomCrop
from altair.testing import check_transform_alignment


def sample(h: int = 20, w: int = 30, centre=None) -> dict:
    """Every pixel its own value (row * 1000 + col), so a crop tells where it came from."""
    rows, cols = np.mgrid[:h, :w]
    img = (rows * 1000 + cols).astype(np.float32)[..., None]
    seg = ((rows // 4 + cols // 5) % 3).astype(np.uint8)
    out = dict(img=img, gt_seg_map=seg, img_shape=(h, w), ori_shape=(h, w),
               seg_fields=['gt_seg_map'])
    if centre is not None:
        out['crop_centre'] = centre
    return out


@pytest.mark.parametrize('kwargs', [dict(crop_size=(8, 12)), dict(crop_size=7, cat_max_ratio=0.6),
                                    dict(crop_size=(40, 10))])
def test_without_a_centre_it_is_random_crop(kwargs):
    for seed in range(20):
        np.random.seed(seed)
        want = RandomCrop(**kwargs)(sample())
        np.random.seed(seed)
        got = CentredRandomCrop(**kwargs)(sample())
        assert np.array_equal(got['img'], want['img'])
        assert np.array_equal(got['gt_seg_map'], want['gt_seg_map'])
        assert got['img_shape'] == want['img_shape']


@pytest.mark.parametrize('centre, origin', [
    ((10, 15), (6, 9)),    # inside: the centre pixel is (h // 2, w // 2) of the crop
    ((0, 0), (0, 0)),      # clamped to the top-left corner
    ((19, 29), (12, 18)),  # clamped to the bottom-right corner
    ((3, 27), (0, 18)),
])
def test_a_centre_fixes_the_crop(centre, origin):
    state = np.random.get_state()
    out = CentredRandomCrop(crop_size=(8, 12), cat_max_ratio=0.5)(sample(centre=centre))
    assert np.array_equal(np.random.get_state()[1], state[1])  # no random draw
    full = sample()
    y, x = origin
    assert np.array_equal(out['img'], full['img'][y:y + 8, x:x + 12])
    assert np.array_equal(out['gt_seg_map'], full['gt_seg_map'][y:y + 8, x:x + 12])
    assert out['img_shape'] == (8, 12) and 'crop_centre' not in out
    # the centre pixel is in the crop, where the image says it is
    r, c = centre
    hit = np.argwhere(out['img'][..., 0] == r * 1000 + c)
    assert hit.tolist() == [[r - y, c - x]]


def test_a_crop_larger_than_the_image_keeps_all_of_it():
    out = CentredRandomCrop(crop_size=(50, 12))(sample(centre=(5, 0)))
    assert np.array_equal(out['img'], sample()['img'][:, :12])


def test_centred_crops_keep_image_and_mask_aligned():
    crop = CentredRandomCrop(crop_size=(24, 32))

    def centred(results):
        h, w = results['gt_seg_map'].shape
        results['crop_centre'] = (int(np.random.randint(h)), int(np.random.randint(w)))
        return crop(results)
    check_transform_alignment('CentredRandomCrop (centred)', centred)
