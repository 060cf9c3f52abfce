"""Foreground oversampling: the pure window maths against brute force, and the share of
``RasterSceneDataset`` windows centred on rare classes of the real Landsat 8 scene."""
from __future__ import annotations

import math

import numpy as np
import pytest

from altair.datasets.scenes import LoadRaster, RasterSceneDataset, SceneConfigError
from altair.datasets.scenes.sampling import (BlockSplit, centre_cells_allowed, centred_origin,
                                             class_cells, draw_centred, minority_classes)
from tests.datasets.raster_fixtures import write_tif


def test_minority_classes_drop_only_the_most_frequent():
    assert minority_classes([5, 0, 90, 3]) == [0, 3]
    assert minority_classes([7, 7, 1]) == [1, 2]  # a tie: the lowest index is the common one
    assert minority_classes([0, 4, 0]) == []
    assert minority_classes([0, 0]) == []


def test_centred_origin_is_the_nearest_start_to_centring():
    for size, extent in [(5, 12), (4, 12), (12, 12), (1, 3)]:
        for centre in range(extent):
            starts = np.arange(extent - size + 1)
            want = starts[np.argmin(np.abs(starts + size // 2 - centre))]
            assert centred_origin(centre, size, extent) == want
            assert starts[0] <= centre - centred_origin(centre, size, extent) < size


@pytest.mark.parametrize('val', [True, False])
def test_centre_cells_allowed_against_every_pixel_of_every_cell(val):
    rng = np.random.default_rng(4)
    height, width, factor, block, size = 70, 95, 3, 20, (16, 12)
    split = BlockSplit(block, rng.random((4, 5)) < 0.3)
    shape = (math.ceil(height / factor), math.ceil(width / factor))
    got = centre_cells_allowed(shape, factor, size, (height, width), split, val=val)
    want = np.ones(shape, bool)
    for r in range(shape[0]):
        for c in range(shape[1]):
            for pr in range(r * factor, min((r + 1) * factor, height)):
                for pc in range(c * factor, min((c + 1) * factor, width)):
                    row = int(centred_origin(pr, size[0], height))
                    col = int(centred_origin(pc, size[1], width))
                    want[r, c] &= not split.touches(row, col, *size, val=val)
    np.testing.assert_array_equal(got, want)
    assert 0 < want.mean() < 1  # both kinds of cell occur
    assert centre_cells_allowed(shape, factor, size, (height, width), None, val=val).all()


def test_class_cells_are_the_class_pixels_inside_the_mask():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, (30, 40))
    mask = rng.random((30, 40)) < 0.6
    cells = class_cells(labels, [1, 3, 7], mask)
    assert sorted(cells) == [1, 3]  # class 7 has no pixel
    for k in (1, 3):
        want = [r * 40 + c for r in range(30) for c in range(40)
                if labels[r, c] == k and mask[r, c]]
        np.testing.assert_array_equal(cells[k], want)
    few = class_cells(labels, [1], mask, limit=50, seed=2)[1]
    assert len(few) == 50 and np.all(np.diff(few) > 0) and np.isin(few, cells[1]).all()
    np.testing.assert_array_equal(few, class_cells(labels, [1], mask, limit=50, seed=2)[1])


def test_draw_centred_picks_classes_uniformly_and_centres_their_pixels():
    factor, size, extent = 2, (9, 8), (60, 80)
    labels = np.zeros((30, 40), np.uint8)
    labels[5:25, 8:30] = 2  # 439 cells of class 2
    labels[10, 12] = 1  # one cell of class 1
    full = np.kron(labels, np.ones((factor, factor), np.uint8))
    cells = class_cells(labels, [1, 2])
    rng = np.random.RandomState(0)
    hits = []
    for _ in range(2000):
        row, col = draw_centred(rng, cells, grid_width=40, factor=factor, size=size,
                                extent=extent)
        k = full[row + size[0] // 2, col + size[1] // 2]  # no clamping this far inside
        assert k in (1, 2)
        hits.append(k == 1)
    # the class is drawn uniformly (not by area): half the windows sit on the single cell
    assert abs(np.mean(hits) - 0.5) < 4 * math.sqrt(0.25 / 2000)
    corner = {1: np.array([0])}  # a cell at the corner: the window is clamped to the scene
    assert draw_centred(rng, corner, grid_width=40, factor=factor, size=size,
                        extent=extent) == (0, 0)


# --- RasterSceneDataset on the real Landsat 8 scene with MODIS land cover ------------------
IGBP_CLASSES = [str(i) for i in range(17)]
DRAWS = 2000


@pytest.fixture(scope='module')
def landsat():
    """(dataset kwargs, full-resolution labels as LoadRaster reads them, held-out mask)."""
    from altair.datasets.sample_data import landsat_scene, modis_landcover
    scenes = [dict(img=str(landsat_scene()), ann=str(modis_landcover()))]
    whole = RasterSceneDataset(scenes=scenes, classes=IGBP_CLASSES, nodata=0,
                               window_size=None, subset='all')
    labels = LoadRaster()(whole.get_data_info(0))['gt_seg_map']
    kw = dict(scenes=scenes, classes=IGBP_CLASSES, nodata=0, window_size=(64, 64),
              samples_per_epoch=DRAWS,
              split=dict(by='block', block_size=512, val_fraction=0.25, seed=0))
    val = RasterSceneDataset(subset='val', **kw).scenes[0].split
    held = np.kron(val.val, np.ones((512, 512), bool))[:labels.shape[0], :labels.shape[1]]
    return kw, labels, held


def _windows(ds, seed=0):
    np.random.seed(seed)
    return [ds.get_data_info(i)['window'] for i in range(len(ds))]


def _centre_rate(windows, labels, classes):
    return np.mean([labels[row + h // 2, col + w // 2] in classes
                    for col, row, w, h in windows])


def test_a_third_of_the_landsat_windows_is_centred_on_rare_classes(landsat):
    kw, labels, held = landsat
    counts = np.bincount(labels[labels != 255], minlength=17)
    rare = [k for k in range(17) if counts[k] and k != np.argmax(counts)]  # all but cropland
    share = 1 / 3
    over = RasterSceneDataset(oversample=dict(share=share), **kw)
    assert list(over.rare_classes) == rare
    plain = RasterSceneDataset(**kw)
    off = RasterSceneDataset(oversample=dict(share=0), **kw)
    uniform = _windows(plain)
    assert _windows(off) == uniform  # share=0 draws exactly the windows drawn without it
    drawn = _windows(over)
    for col, row, w, h in drawn:
        assert (w, h) == (64, 64) and not held[row:row + h, col:col + w].any()
    p_u, p_s = _centre_rate(uniform, labels, rare), _centre_rate(drawn, labels, rare)
    want = share + (1 - share) * p_u
    sigma = math.sqrt(p_s * (1 - p_s) / DRAWS + (1 - share) ** 2 * p_u * (1 - p_u) / DRAWS)
    assert 0.3 < p_u < 0.8 and want - p_u > 8 * sigma  # the check can tell the two apart
    assert abs(p_s - want) < 4 * sigma, (p_s, want, p_u)
    # one named class (water, ~10 % of the pixels): every centred window sits on it
    water = RasterSceneDataset(oversample=dict(share=share, classes=[0]), **kw)
    q_u, q_s = _centre_rate(uniform, labels, [0]), _centre_rate(_windows(water), labels, [0])
    want = share + (1 - share) * q_u
    sigma = math.sqrt(q_s * (1 - q_s) / DRAWS + (1 - share) ** 2 * q_u * (1 - q_u) / DRAWS)
    assert q_u < 0.2 and abs(q_s - want) < 4 * sigma, (q_s, want, q_u)


def test_oversampled_windows_are_reproducible(landsat):
    kw = dict(landsat[0], samples_per_epoch=300)
    a = RasterSceneDataset(oversample=dict(share=0.5), **kw)
    b = RasterSceneDataset(oversample=dict(share=0.5), **kw)
    first = _windows(a, seed=7)
    assert _windows(b, seed=7) == first
    assert _windows(b, seed=8) != first
    # a resumed mmengine run replays the batches it had trained on (IterBasedTrainLoop
    # advances the dataloader), so the worker's stream then draws what it drew unresumed
    np.random.seed(7)
    for i in range(120):
        a.get_data_info(i)
    assert [a.get_data_info(i)['window'] for i in range(120, 300)] == first[120:]


def test_centred_windows_keep_the_validity_rules(tmp_path):
    """Class 1 is a 20-px square in a class-0 scene with a nodata strip: centred windows of
    class 1 still hold at most 30 % of it (``max_class_fraction``) and enough valid pixels."""
    img = np.ones((1, 200, 200), np.float32)
    img[:, :, :40] = -1
    lab = np.zeros((200, 200), np.uint8)
    lab[90:110, 90:110] = 1
    ds = RasterSceneDataset(
        scenes=[dict(img=str(write_tif(tmp_path / 'i.tif', img, nodata=-1)),
                     ann=str(write_tif(tmp_path / 'l.tif', lab)))],
        classes=('a', 'b'), window_size=(40, 40), samples_per_epoch=200,
        min_valid_fraction=0.9, max_class_fraction={1: 0.3}, oversample=dict(share=1.0))
    assert ds.rare_classes == (1,)
    for col, row, w, h in _windows(ds, seed=3):
        box = (slice(row, row + h), slice(col, col + w))
        assert (lab[box] == 1).mean() <= 0.3 and (img[0][box] != -1).mean() >= 0.9
        assert (lab[box] == 1).any()  # centred on the square, not drawn anywhere


@pytest.mark.parametrize('option, message', [
    (dict(share=1.5), r'oversample share 1.5: give a fraction in \[0, 1\]'),
    (dict(share=-0.1), r'oversample share -0.1: give a fraction in \[0, 1\]'),
    (dict(share='third'), r"oversample share 'third': give a fraction"),
    (dict(classes=[1, 17]), r'oversample classes: 17 is not a class index; give indices in '
                            r'\[0, 16\]'),
    (dict(classes=[]), r"oversample classes: '\[\]' is not a class index"),
    (dict(shares=0.3), r"oversample key 'shares': choose share or classes"),
    (0.3, r'oversample 0.3: give dict\(share=1/3, classes=None\)'),
])
def test_bad_oversample_options_are_refused(tmp_path, option, message):
    img = write_tif(tmp_path / 'i.tif', np.ones((1, 8, 8), np.uint8))
    lab = write_tif(tmp_path / 'l.tif', np.zeros((8, 8), np.uint8))
    with pytest.raises(SceneConfigError, match=message):
        RasterSceneDataset(scenes=[dict(img=str(img), ann=str(lab))], classes=IGBP_CLASSES,
                           window_size=(8, 8), oversample=option)
