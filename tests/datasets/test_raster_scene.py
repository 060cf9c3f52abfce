"""RasterSceneDataset: random and grid windows, spatial splits, bad scenes refused."""
from __future__ import annotations

import numpy as np
import pytest

from altair.datasets.scenes import LoadRaster, RasterSceneDataset, SceneConfigError
from altair.errors import DataNotFoundError
from altair.raster.errors import BandError, LabelAlignmentError
from tests.datasets.raster_fixtures import write_geojson, write_tif

CLASSES = ('a', 'b')


@pytest.fixture
def scene(tmp_path):
    """A 300x400 scene whose pixel (r, c) holds r * 1000 + c, a nodata strip on the left."""
    rows, cols = np.mgrid[:300, :400]
    data = (rows * 1000 + cols + 1).astype(np.float32)[None].repeat(2, 0)
    data[:, :, :60] = -1
    img = write_tif(tmp_path / 'scene.tif', data, nodata=-1)
    lab = write_tif(tmp_path / 'labels.tif', ((rows // 50 + cols // 50) % 2).astype(np.uint8))
    return img, lab


def _ds(img, lab, **kw):
    return RasterSceneDataset(scenes=[dict(img=str(img), ann=str(lab))], classes=CLASSES, **kw)


def test_random_windows_stay_in_the_training_blocks(scene):
    img, lab = scene
    split = dict(by='block', block_size=100, val_fraction=0.25, seed=3)
    train = _ds(*scene, window_size=(64, 64), split=split, samples_per_epoch=50,
                min_valid_fraction=0.9)
    val = _ds(*scene, window_size=(64, 64), split=split, subset='val')
    s_train, s_val = train.scenes[0], val.scenes[0]
    np.testing.assert_array_equal(s_train.split.val, s_val.split.val)  # the same blocks
    held = np.zeros((300, 400), bool)
    for r, c in zip(*np.nonzero(s_val.split.val)):
        held[r * 100:(r + 1) * 100, c * 100:(c + 1) * 100] = True
    assert 0 < held.mean() < 0.5
    np.random.seed(0)
    load = LoadRaster()
    for i in range(len(train)):
        info = train.get_data_info(i)
        col, row, w, h = info['window']
        assert (w, h) == (64, 64)
        assert not held[row:row + h, col:col + w].any()
        out = load(info)
        # the window read is the window asked for (pixel values encode their position)
        assert out['img'][0, 0, 0] == row * 1000 + col + 1 or out['img'][0, 0, 0] == -1
        assert (out['gt_seg_map'] != 255).mean() >= 0.85  # mostly valid pixels
    covered = np.zeros((300, 400), bool)
    for i in range(len(val)):
        col, row, w, h = val.get_data_info(i)['window']
        assert held[row:row + h, col:col + w].all()
        covered[row:row + h, col:col + w] = True
    valid = np.zeros((300, 400), bool)
    valid[:, 60:] = True
    # the grid covers every held-out block that has valid pixels
    for r, c in zip(*np.nonzero(s_val.split.val)):
        block = (slice(r * 100, (r + 1) * 100), slice(c * 100, (c + 1) * 100))
        assert covered[block].all() or not valid[block].any()


def test_grid_whole_scene_and_subset_all(scene):
    ds = _ds(*scene, window_size=None, subset='all')
    assert len(ds) == 1 and ds.get_data_info(0)['window'] == (0, 0, 400, 300)
    ds = _ds(*scene, window_size=(128, 128), subset='all')
    wins = [ds.get_data_info(i)['window'] for i in range(len(ds))]
    # 3 rows x 4 columns, the last ones flush with the edges
    assert sorted({w[1] for w in wins}) == [0, 128, 172]
    assert sorted({w[0] for w in wins}) == [0, 128, 256, 272]


def test_split_by_scene(tmp_path):
    scenes = []
    for i in range(5):
        img = write_tif(tmp_path / f's{i}.tif', np.full((1, 40, 40), i + 1, np.uint8))
        lab = write_tif(tmp_path / f'l{i}.tif', np.zeros((40, 40), np.uint8))
        scenes.append(dict(img=str(img), ann=str(lab)))
    split = dict(by='scene', val_fraction=0.4, seed=1)
    train = RasterSceneDataset(scenes=scenes, classes=CLASSES, window_size=(32, 32),
                               split=split, samples_per_epoch=40)
    val = RasterSceneDataset(scenes=scenes, classes=CLASSES, window_size=(40, 40),
                             split=split, subset='val')
    val_imgs = {val.get_data_info(i)['img_path'] for i in range(len(val))}
    np.random.seed(0)
    train_imgs = {train.get_data_info(i)['img_path'] for i in range(len(train))}
    assert len(val_imgs) == 2 and len(train_imgs) == 3 and not val_imgs & train_imgs


def test_glob_layout_and_images_without_masks(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    for name in ('x', 'y'):
        write_tif(tmp_path / 'images' / f'{name}.tif', np.ones((1, 8, 8), np.uint16))
    write_tif(tmp_path / 'masks' / 'x.tif', np.ones((8, 8), np.uint8))
    with pytest.raises(DataNotFoundError, match=r"image '.*images/y.tif' has no labels: "
                                                r"'.*masks/y.tif' does not exist"):
        RasterSceneDataset(img_glob='images/*.tif', ann_pattern='masks/{stem}.tif',
                           data_root=str(tmp_path), classes=CLASSES, subset='all')


def test_mixed_band_counts_refused(tmp_path):
    a = write_tif(tmp_path / 'a.tif', np.ones((4, 8, 8), np.uint16))
    b = write_tif(tmp_path / 'b.tif', np.ones((3, 8, 8), np.uint16))
    lab = write_tif(tmp_path / 'l.tif', np.ones((8, 8), np.uint8))
    with pytest.raises(SceneConfigError, match=r"different band counts: '.*a.tif' has 4 and "
                                               r"'.*b.tif' has 3"):
        RasterSceneDataset(scenes=[dict(img=str(a), ann=str(lab)), dict(img=str(b), ann=str(lab))],
                           classes=CLASSES, subset='all')
    with pytest.raises(BandError, match='band 4 of raster .*b.tif'):
        RasterSceneDataset(scenes=[dict(img=str(a), ann=str(lab)), dict(img=str(b), ann=str(lab))],
                           classes=CLASSES, subset='all', bands=[1, 2, 4])


def test_labels_that_do_not_overlap(tmp_path):
    from rasterio.transform import from_origin
    img = write_tif(tmp_path / 'img.tif', np.ones((1, 20, 20), np.uint8))
    lab = write_tif(tmp_path / 'far.tif', np.ones((20, 20), np.uint8),
                    transform=from_origin(600000, 5000000, 10, 10))
    with pytest.raises(LabelAlignmentError, match=r"labels '.*far.tif' do not overlap image "
                                                  r"'.*img.tif'"):
        _ds(img, lab, subset='all')


def test_scene_without_crs_with_georeferenced_labels(tmp_path):
    img = write_tif(tmp_path / 'plain.tif', np.ones((1, 20, 20), np.uint8), crs=None)
    lab = write_tif(tmp_path / 'geo.tif', np.ones((20, 20), np.uint8), crs='EPSG:4326')
    with pytest.raises(LabelAlignmentError, match=r"image '.*plain.tif' has no CRS but its "
                                                  r"labels '.*geo.tif' are georeferenced"):
        _ds(img, lab, subset='all')
    vec = write_geojson(tmp_path / 'v.geojson', [([(0, 0), (1, 0), (0, 1), (0, 0)], {'c': 'a'})])
    with pytest.raises(SceneConfigError, match=r"image '.*plain.tif' has no CRS but its "
                                               r"polygons '.*v.geojson' are in"):
        RasterSceneDataset(scenes=[dict(img=str(img), ann=str(vec))], classes=CLASSES,
                           class_field='c', subset='all')


def test_plain_image_georeferenced_by_bounds(tmp_path):
    """A plain image (no CRS) with crs + bounds in the scene: labels in another resolution
    align (the Blue Marble case: a JPEG of the globe and a finer label GeoTIFF)."""
    from rasterio.transform import from_bounds
    img = write_tif(tmp_path / 'globe.tif', np.ones((1, 18, 36), np.uint8), crs=None)
    lab_data = np.repeat(np.repeat(np.arange(36 * 18).reshape(18, 36) % 200, 2, 0), 2, 1)
    lab = write_tif(tmp_path / 'fine.tif', lab_data.astype(np.uint8), crs='EPSG:4326',
                    transform=from_bounds(-180, -90, 180, 90, 72, 36))
    ds = RasterSceneDataset(scenes=[dict(img=str(img), ann=str(lab), crs='EPSG:4326',
                                         bounds=(-180, -90, 180, 90))],
                            classes=CLASSES, window_size=None, subset='all')
    out = LoadRaster()(ds.get_data_info(0))
    np.testing.assert_array_equal(out['gt_seg_map'], np.arange(36 * 18).reshape(18, 36) % 200)


def test_bad_options(scene):
    with pytest.raises(SceneConfigError, match="split by 'tiles': choose one of block, scene"):
        _ds(*scene, split=dict(by='tiles'))
    with pytest.raises(SceneConfigError, match='block_size 100 is smaller than the window'):
        _ds(*scene, window_size=(128, 128), split=dict(block_size=100))


def test_max_class_fraction_keeps_crowded_windows_out(tmp_path):
    """A scene that is class 0 except for a 100-px square of class 1 in a label raster of
    another resolution: with {0: 0.7} every window holds at least 30 % of class 1."""
    from rasterio.transform import from_origin
    img = write_tif(tmp_path / 'img.tif', np.ones((1, 400, 400), np.float32))
    lab = np.zeros((200, 200), np.uint8)
    lab[50:100, 50:100] = 1  # pixels 100-199 of the image (labels at twice the pixel size)
    lab_path = write_tif(tmp_path / 'lab.tif', lab,
                         transform=from_origin(500000, 5000000, 20, 20))
    ds = RasterSceneDataset(scenes=[dict(img=str(img), ann=str(lab_path))], classes=CLASSES,
                            window_size=(80, 80), samples_per_epoch=40,
                            max_class_fraction={0: 0.7})
    np.random.seed(1)
    load = LoadRaster()
    for i in range(len(ds)):
        out = load(ds.get_data_info(i))
        assert (out['gt_seg_map'] == 1).mean() >= 0.3 - 0.05  # decimated: a few px of slack
    plain = RasterSceneDataset(scenes=[dict(img=str(img), ann=str(lab_path))],
                               classes=CLASSES, window_size=(80, 80), samples_per_epoch=40)
    shares = [(load(plain.get_data_info(i))['gt_seg_map'] == 1).mean() for i in range(40)]
    assert min(shares) < 0.25  # without the option such windows are drawn
    with pytest.raises(SceneConfigError, match=r'max_class_fraction \{2: 0.5\}: give class '):
        RasterSceneDataset(scenes=[dict(img=str(img), ann=str(lab_path))], classes=CLASSES,
                           max_class_fraction={2: 0.5})
