"""Streamed polygons against known shapes and against polygonising the whole raster at once."""
from __future__ import annotations

import json

import numpy as np
import pyogrio.raw
import pytest
import shapely
import torch
from rasterio.crs import CRS
from rasterio.features import shapes
from rasterio.transform import from_origin
from shapely.geometry import shape

from altair.prediction.polygons import NoCrsWarning, PolygonOptionError, PolygonWriter
from altair.prediction.sinks import FanOut

TRANSFORM = from_origin(1000.0, 5000.0, 2.0, 2.0)  # 2 m pixels: 4 m² each
CRS_UTM = CRS.from_epsg(32633)


def _known():
    """(60, 50) labels on class 0: a 10x20 rectangle of 1, a ring of 2 (12x12 outer, 4x4
    hole of 0 inside), an L of 1 crossing rows 28-33, one pixel of 2."""
    lab = np.zeros((60, 50), np.int64)
    lab[2:12, 5:25] = 1                      # 200 px
    lab[20:32, 30:42] = 2
    lab[24:28, 34:38] = 0                    # ring: 144 - 16 = 128 px
    lab[28:40, 2:6] = 1
    lab[36:40, 6:16] = 1                     # L: 48 + 40 = 88 px
    lab[50, 45] = 2
    return lab


def _stream(writer, labels, band_rows, probs=None):
    k = writer.num_classes
    probs = probs if probs is not None else np.stack([(labels == c) * 0.8 + 0.1
                                                      for c in range(k)]).astype(np.float32)
    chosen = np.take_along_axis(probs, labels[None], 0)[0]  # each pixel's label's probability
    for row0 in range(0, labels.shape[0], band_rows):
        writer.add_band(row0, labels[row0:row0 + band_rows], chosen[row0:row0 + band_rows],
                        None)
    return writer.close()['polygons']


def _read(path):
    meta, _, geoms, fields = pyogrio.raw.read(path)
    return meta, [shapely.from_wkb(g) for g in geoms], fields


@pytest.mark.parametrize('band_rows', [7, 13, 60])
def test_known_shapes_exact_areas_and_seams_merged(tmp_path, band_rows):
    lab = _known()
    out = _stream(PolygonWriter(tmp_path / 'p.gpkg', width=50, height=60, num_classes=3,
                                transform=TRANSFORM, crs=CRS_UTM,
                                class_names=['bg', 'field', 'pond']), lab, band_rows)
    meta, geoms, (cls, names, areas, mean_prob) = _read(out)
    assert CRS.from_user_input(meta['crs']).to_epsg() == 32633
    got = sorted(zip(cls.tolist(), areas.tolist()))
    # background: 3000 - 200 - 128 - 88 - 1 - 16 = 2567 px, one region around everything,
    # plus the ring's 4x4 hole as its own region
    assert got == sorted([(0, 2567 * 4.0), (0, 16 * 4.0), (1, 200 * 4.0), (1, 88 * 4.0),
                          (2, 128 * 4.0), (2, 1 * 4.0)])
    assert sorted(set(names)) == ['bg', 'field', 'pond']
    assert np.allclose(mean_prob, 0.9)
    for g, a in zip(geoms, areas):  # each region is one polygon whose area is its pixels'
        assert g.geom_type == 'Polygon' and g.is_valid and g.area == pytest.approx(a)
    # the same outlines as polygonising the whole raster at once
    whole = sorted((int(v), shape(g).wkt) for g, v in
                   shapes(lab.astype(np.int32), connectivity=4, transform=TRANSFORM))
    ref = [(c, shapely.normalize(shapely.from_wkt(w))) for c, w in whole]
    mine = [(int(c), shapely.normalize(g)) for c, g in zip(cls, geoms)]
    assert len(ref) == len(mine)
    for c, g in mine:
        assert any(c == rc and g.equals(rg) for rc, rg in ref)


def test_shape_cut_by_a_seam_is_one_polygon(tmp_path):
    lab = np.zeros((20, 20), np.int64)
    lab[3:17, 8:12] = 1   # crosses the seams at rows 5, 10 and 15
    lab[9:11, 2:18] = 1   # a cross: one region
    out = _stream(PolygonWriter(tmp_path / 'c.geojson', width=20, height=20, num_classes=2,
                                transform=TRANSFORM, crs=CRS_UTM), lab, 5)
    doc = json.loads(out.read_text())
    ones = [f for f in doc['features'] if f['properties']['class'] == 1]
    assert len(ones) == 1 and ones[0]['properties']['area'] == (56 + 24) * 4.0
    assert shape(ones[0]['geometry']).area == pytest.approx(80 * 4.0)
    assert doc['crs']['properties']['name'] == 'urn:ogc:def:crs:EPSG::32633'


def test_fractional_pixel_sizes_still_give_single_polygons(tmp_path):
    """Blue Marble's 1/15 degree pixels are not exact in binary: the parts of a region must
    still meet exactly at the seams."""
    rng = np.random.default_rng(5)
    lab = (rng.random((64, 64)) < 0.45).astype(np.int64)
    transform = from_origin(-180.0, 90.0, 1 / 15, 1 / 15)
    out = _stream(PolygonWriter(tmp_path / 'f.gpkg', width=64, height=64, num_classes=2,
                                transform=transform, crs=CRS.from_epsg(4326)), lab, 5)
    _, geoms, (cls, _, areas, _) = _read(out)
    whole = list(shapes(lab.astype(np.int32), connectivity=4, transform=transform))
    assert len(geoms) == len(whole) > 50
    assert all(g.geom_type == 'Polygon' and g.is_valid for g in geoms)
    assert np.allclose([g.area for g in geoms], areas, rtol=1e-9)


def test_min_area_simplify_nodata_and_streaming_sink(tmp_path):
    lab = _known()
    logits = torch.from_numpy(np.stack([(lab == c) * 5.0 for c in range(3)])).float()
    valid = torch.ones(60, 50, dtype=torch.bool)
    valid[:, :3] = False  # a nodata strip: no polygons there
    w = PolygonWriter(tmp_path / 'm.gpkg', width=50, height=60, num_classes=3,
                      transform=TRANSFORM, crs=CRS_UTM, min_area=100.0, simplify=0.5)
    sink = FanOut([w], 3)
    for row0 in range(0, 60, 16):
        sink(row0, logits[:, row0:row0 + 16], valid[row0:row0 + 16])
    _, geoms, (cls, _, areas, mean_prob) = _read(w.close()['polygons'])
    assert (areas >= 100).all() and 4.0 not in areas.tolist()
    # background minus its 3 x 60 - 12 pixels in the strip (the L's first column is there)
    assert (2567 - 168) * 4.0 in areas.tolist() and (88 - 12) * 4.0 in areas.tolist()
    p = np.exp(5) / (np.exp(5) + 2)
    assert np.allclose(mean_prob, p, atol=1e-6)
    strip = shapely.box(1000, 5000 - 120, 1006, 5000)
    assert all(g.intersection(strip).area < 1e-9 for g in geoms)


def test_errors_and_no_crs_warning(tmp_path):
    with pytest.raises(PolygonOptionError, match="a .gpkg or .geojson file, got 'x.shp'"):
        PolygonWriter(tmp_path / 'x.shp', width=2, height=2, num_classes=2, crs=CRS_UTM)
    with pytest.raises(PolygonOptionError, match='min_area must be a number >= 0, got -1'):
        PolygonWriter(tmp_path / 'x.gpkg', width=2, height=2, num_classes=2, crs=CRS_UTM,
                      min_area=-1)
    with pytest.warns(NoCrsWarning, match='no CRS'):
        w = PolygonWriter(tmp_path / 'x.gpkg', width=4, height=4, num_classes=2)
    out = _stream(w, np.eye(4, dtype=np.int64), 2)
    _, _, (cls, _, areas, _) = _read(out)
    assert sorted(zip(cls.tolist(), areas.tolist())) == [(0, 6.0), (0, 6.0)] + [(1, 1.0)] * 4
    w = PolygonWriter(tmp_path / 'y.gpkg', width=4, height=4, num_classes=2, crs=CRS_UTM)
    w.add_band(0, np.zeros((2, 4), np.int64), np.zeros((2, 4), np.float32), None)
    with pytest.raises(RuntimeError, match='only 2 of 4 rows'):
        w.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['x.gpkg']
