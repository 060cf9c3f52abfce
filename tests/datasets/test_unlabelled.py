"""Unlabelled image folders and Blue Marble crops that avoid the validation longitudes."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from altair.datasets.unlabelled import (BlueMarbleCrops, NoImagesError, UnlabelledImageFolder,
                                        allowed_spans, random_crop_origin, scan_images)


def test_folder_scan_is_recursive_and_counts_skipped_files(tmp_path):
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    for rel in ('x.png', 'a/y.JPG', 'a/b/z.tif'):
        cv2.imwrite(str(tmp_path / rel), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / 'notes.txt').write_text('hi')
    (tmp_path / 'a' / 'labels.csv').write_text('1,2')
    images, skipped = scan_images(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in images] == ['a/b/z.tif', 'a/y.JPG',
                                                                   'x.png']
    assert skipped == 2
    ds = UnlabelledImageFolder(str(tmp_path))
    assert len(ds) == 3 and ds[0]['img_path'].endswith('z.tif')


def test_empty_or_missing_folder_is_an_error(tmp_path):
    (tmp_path / 'readme.md').write_text('x')
    with pytest.raises(NoImagesError, match=f"no images .* under '{tmp_path}' \\(1 other"):
        UnlabelledImageFolder(str(tmp_path))
    with pytest.raises(NoImagesError, match="image folder '.*nope' does not exist"):
        scan_images(tmp_path / 'nope')


def test_spans_leave_out_the_validation_columns():
    assert allowed_spans(5400, 300, [2, 8, 14]) == [(0, 600), (900, 2400), (2700, 4200),
                                                    (4500, 5400)]
    assert allowed_spans(900, 300, [0, 2]) == [(300, 600)]


def test_random_crops_never_touch_a_validation_column():
    spans = allowed_spans(5400, 300, [2, 8, 14])
    rng = np.random.default_rng(0)
    for _ in range(2000):
        y, x = random_crop_origin(rng, spans, 2700, 224)
        assert 0 <= y <= 2700 - 224
        assert any(x0 <= x and x + 224 <= x1 for x0, x1 in spans)
    with pytest.raises(ValueError, match='no 700-pixel crop fits'):
        random_crop_origin(rng, [(0, 600)], 2700, 700)


@pytest.mark.slow
def test_blue_marble_crops(bluemarble):
    ds = BlueMarbleCrops(str(bluemarble), crop_size=96, num_samples=5)
    np.random.seed(0)
    a = ds[0]
    np.random.seed(0)
    b = ds[0]
    assert len(ds) == 5 and a['img'].shape == (96, 96, 3) and a['img'].dtype == np.uint8
    assert np.array_equal(a['img'], b['img']) and a['crop_origin'] == b['crop_origin']
    y, x = a['crop_origin']
    full = cv2.imread(str(bluemarble / 'bluemarble_rgb.tif'))
    assert np.array_equal(a['img'], full[y:y + 96, x:x + 96])
