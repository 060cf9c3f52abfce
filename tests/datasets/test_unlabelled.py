"""Unlabelled image folders and Blue Marble crops that avoid the validation longitudes."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from altair.datasets.unlabelled import (BlueMarbleCrops, NoImagesError, RasterCrops,
                                        UnlabelledImageFolder, allowed_spans, random_crop_origin,
                                        scan_images)
from altair.errors import DataError
from altair.visualization.overlay import stretch_to_uint8
from tests.datasets.raster_fixtures import write_tif


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


def test_stretch_maps_each_band_between_its_bounds():
    img = np.array([[[100, 0], [150, 10], [200, 20], [250, 30]]], np.uint16)  # (1, 4, 2)
    out = stretch_to_uint8(img, low=[100, 10], high=[200, 30])
    # band 0: 100 -> 0, 150 -> 127.5 (rounds to even 128), 200 -> 255, 250 clipped
    assert out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 128, 255, 255]
    assert out[0, :, 1].tolist() == [0, 0, 128, 255]


def _scene(tmp_path):
    """(3, 60, 80) uint16 bands with different ranges and a nodata (0) frame 10 pixels wide."""
    rng = np.random.default_rng(0)
    data = np.stack([rng.integers(1000, 3000, (60, 80)), rng.integers(5000, 9000, (60, 80)),
                     rng.integers(1, 500, (60, 80))]).astype(np.uint16)
    data[:, :10], data[:, -10:], data[:, :, :10], data[:, :, -10:] = 0, 0, 0, 0
    return write_tif(tmp_path / 'scene.tif', data, nodata=0), data


def test_raster_crops_are_bgr_stretched_by_the_scene_percentiles_inside_the_footprint(tmp_path):
    path, data = _scene(tmp_path)
    ds = RasterCrops(str(path), bands=(3, 2, 1), crop_size=16, num_samples=4,
                     percentiles=(5, 95))
    valid = data[:, 10:-10, 10:-10].reshape(3, -1)
    rgb = data[[2, 1, 0]].astype(np.float64)  # bands 3, 2, 1 as red, green, blue
    low = np.percentile(valid[[2, 1, 0]], 5, axis=1)
    high = np.percentile(valid[[2, 1, 0]], 95, axis=1)
    np.random.seed(0)
    for i in range(40):
        s = ds[i % len(ds)]
        y, x = s['crop_origin']
        assert 10 <= y <= 60 - 10 - 16 and 10 <= x <= 80 - 10 - 16  # no nodata pixel
        crop = rgb[:, y:y + 16, x:x + 16]
        ref = np.clip(np.rint((crop - low[:, None, None]) / (high - low)[:, None, None]
                              * 255), 0, 255).astype(np.uint8)
        assert s['img'].dtype == np.uint8 and s['img'].shape == (16, 16, 3)
        # blue, green, red planes (BGR, as LoadImageFromFile gives)
        assert np.abs(s['img'].astype(int) - ref[::-1].transpose(1, 2, 0)).max() <= 1


def test_raster_crops_bad_options_name_the_file(tmp_path):
    path, _ = _scene(tmp_path)
    with pytest.raises(DataError, match="scene.tif.*3 of them"):
        RasterCrops(str(path), bands=(1, 2))
    with pytest.raises(DataError, match="scene.tif.*60x80.*smaller than crop_size 96"):
        RasterCrops(str(path), crop_size=96)
    with pytest.raises(DataError, match="band 4 of raster .*scene.tif"):
        RasterCrops(str(path), bands=(4, 2, 1), crop_size=16)


def test_raster_crops_of_the_real_landsat_scene_avoid_its_nodata_border():
    from altair.datasets.sample_data import landsat_scene
    ds = RasterCrops(str(landsat_scene()), bands=(3, 2, 1), crop_size=96, num_samples=8,
                     nodata=0)
    np.random.seed(1)
    for i in range(8):
        img = ds[i]['img']
        assert img.shape == (96, 96, 3) and img.dtype == np.uint8
        assert (img.reshape(-1, 3) > 0).any(axis=1).mean() >= 0.95  # the zero frame left out


def test_cache_paths_follow_altair_cache(monkeypatch, tmp_path):
    from altair.datasets.unlabelled import cache_or_user_path
    monkeypatch.setenv('ALTAIR_CACHE', str(tmp_path))
    assert cache_or_user_path('cache://data/x.tif') == str(tmp_path / 'data' / 'x.tif')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert cache_or_user_path('~/a.tif') == str(tmp_path / 'home' / 'a.tif')
    assert cache_or_user_path('/abs/b.tif') == '/abs/b.tif'
