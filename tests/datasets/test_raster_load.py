"""LoadRaster: bands, dtypes, nodata, labels in another grid and polygons on the right pixels."""
from __future__ import annotations

import numpy as np
import pytest

from altair.datasets.scenes import LoadRaster
from altair.raster.errors import BandError, LabelValueError
from altair.raster.vector import VectorLabelError
from tests.datasets.raster_fixtures import write_geojson, write_tif


def _load(img, ann=None, **kw):
    opts = {k: kw.pop(k) for k in list(kw) if k in ('bands', 'nodata', 'fill', 'to_float32')}
    results = dict(img_path=str(img), seg_map_path=str(ann) if ann else None, **kw)
    return LoadRaster(**opts)(results)


def _centres(transform, h, w):
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    xs, ys = transform @ (cols.ravel(), rows.ravel())
    return np.asarray(xs), np.asarray(ys)


@pytest.mark.parametrize('dtype', ['uint8', 'uint16', 'int16', 'float32'])
def test_dtype_is_kept(tmp_path, dtype):
    data = (np.arange(3 * 20 * 30).reshape(3, 20, 30) * 7 - 100).astype(dtype)
    out = _load(write_tif(tmp_path / 'a.tif', data))
    assert out['img'].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out['img'], np.moveaxis(data, 0, -1))
    assert out['img_shape'] == (20, 30)


def test_band_selection_by_index_and_description(tmp_path):
    data = np.stack([np.full((8, 9), 1000 * b, np.uint16) for b in range(1, 6)])
    data += np.arange(72, dtype=np.uint16).reshape(8, 9)
    path = write_tif(tmp_path / 'five.tif', data,
                     descriptions=['blue', 'green', 'red', 'nir', 'swir'])
    out = _load(path, bands=[4, 2])
    np.testing.assert_array_equal(out['img'], np.stack([data[3], data[1]], -1))
    out = _load(path, bands=['NIR', 'red', 1])
    np.testing.assert_array_equal(out['img'], np.stack([data[3], data[2], data[0]], -1))
    with pytest.raises(BandError, match=r"band 6 of raster '.*five.tif' does not exist: it "
                                        r'has 5 band\(s\), indices 1-5'):
        _load(path, bands=[1, 6])
    with pytest.raises(BandError, match="no band described 'thermal'"):
        _load(path, bands=['thermal'])


def test_window_reads_only_that_window(tmp_path):
    data = np.arange(2 * 40 * 50, dtype=np.int16).reshape(2, 40, 50)
    out = _load(write_tif(tmp_path / 'w.tif', data), window=(7, 11, 20, 13))
    np.testing.assert_array_equal(out['img'], np.moveaxis(data[:, 11:24, 7:27], 0, -1))


def test_label_in_another_crs_and_resolution_lands_on_the_right_pixels(tmp_path):
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp_points

    # image: UTM 33N, 10 m pixels; labels: lon/lat, ~0.0007 degree cells, each cell its id
    img_t = from_origin(500000, 5000000, 10, 10)
    img = write_tif(tmp_path / 'img.tif', np.ones((2, 60, 80), np.uint16), transform=img_t)
    lon0, lat0 = warp_points('EPSG:32633', 'EPSG:4326', [499900], [5000100])
    lab_t = from_origin(lon0[0], lat0[0], 0.0007, 0.0005)
    ids = (np.arange(40 * 40) % 250).astype(np.uint8).reshape(40, 40)
    lab = write_tif(tmp_path / 'lab.tif', ids, crs='EPSG:4326', transform=lab_t)
    out = _load(img, lab, window=(5, 3, 70, 50))
    # reference: each image pixel centre, projected to lon/lat, indexes the label cell
    win_t = img_t @ img_t.translation(5, 3)
    xs, ys = _centres(win_t, 50, 70)
    lons, lats = warp_points('EPSG:32633', 'EPSG:4326', xs, ys)
    cols, rows = ~lab_t @ (np.asarray(lons), np.asarray(lats))
    expected = ids[np.floor(rows).astype(int), np.floor(cols).astype(int)].reshape(50, 70)
    got = out['gt_seg_map']
    assert got.shape == (50, 70)
    assert (got == expected).mean() > 0.999  # ties exactly on a cell edge may go either way
    with rasterio.open(lab) as src:
        assert src.crs.to_epsg() == 4326


def test_nodata_becomes_ignore_and_fill(tmp_path):
    data = np.full((3, 10, 12), 500, np.uint16)
    data[:, :, :4] = 0  # a nodata border
    data[1, 5, 6] = 0   # one band at 0 is still a valid pixel
    img = write_tif(tmp_path / 'nd.tif', data, nodata=0)
    lab = write_tif(tmp_path / 'lab.tif', np.ones((10, 12), np.uint8))
    out = _load(img, lab, fill=[1, 2, 3])
    expected = np.ones((10, 12), np.uint8)
    expected[:, :4] = 255
    np.testing.assert_array_equal(out['gt_seg_map'], expected)
    np.testing.assert_array_equal(out['img'][:, :4], np.broadcast_to([1, 2, 3], (10, 4, 3)))
    assert out['img'][5, 6, 1] == 0 and out['img'].dtype == np.uint16
    # nodata given in the config for a file without one
    img2 = write_tif(tmp_path / 'nd2.tif', data)
    assert (_load(img2, lab, nodata=0)['gt_seg_map'] == 255).sum() == 40


def test_label_nodata_and_value_mapping(tmp_path):
    img = write_tif(tmp_path / 'i.tif', np.ones((1, 4, 4), np.uint8))
    raw = np.array([[10, 20, 30, 99]] * 4, np.uint16)
    lab = write_tif(tmp_path / 'l.tif', raw, nodata=99)
    out = _load(img, lab, label_values={10: 0, 20: 1, 30: 1})
    np.testing.assert_array_equal(out['gt_seg_map'][0], [0, 1, 1, 255])
    with pytest.raises(LabelValueError, match=r"labels '.*l.tif' hold values 30 that the "
                                              'classes do not list'):
        _load(img, lab, label_values={10: 0, 20: 1})
    # 255 is "not labelled" unless the mapping names it
    lab255 = write_tif(tmp_path / 'l255.tif', np.where(raw == 30, 255, raw).astype(np.uint16),
                       nodata=99)
    out = _load(img, lab255, label_values={10: 0, 20: 1})
    np.testing.assert_array_equal(out['gt_seg_map'][0], [0, 1, 255, 255])


def test_polygons_burn_onto_the_right_pixels(tmp_path):
    import shapely
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp_points

    img_t = from_origin(500000, 5000000, 10, 10)
    img = write_tif(tmp_path / 'img.tif', np.ones((1, 50, 60), np.uint8), transform=img_t)
    # a lon/lat triangle and square over the image
    (x0, x1), (y0, y1) = warp_points('EPSG:32633', 'EPSG:4326', [500050, 500400],
                                     [4999950, 4999600])
    tri = [(x0, y0), (x1, y0), (x0, y1), (x0, y0)]
    sq_x, sq_y = warp_points('EPSG:32633', 'EPSG:4326', [500420, 500560], [4999880, 4999700])
    sq = [(sq_x[0], sq_y[0]), (sq_x[1], sq_y[0]), (sq_x[1], sq_y[1]), (sq_x[0], sq_y[1]),
          (sq_x[0], sq_y[0])]
    vec = write_geojson(tmp_path / 'labels.geojson',
                        [(tri, {'kind': 'forest'}), (sq, {'kind': 'water'})])
    out = _load(img, vec, class_field='kind', label_values={'forest': 1, 'water': 2},
                vector_fill=0)
    got = out['gt_seg_map']
    xs, ys = _centres(img_t, 50, 60)
    lons, lats = warp_points('EPSG:32633', 'EPSG:4326', xs, ys)
    pts = shapely.points(lons, lats)
    expected = np.zeros(50 * 60, np.uint8)
    expected[shapely.contains(shapely.Polygon(tri), pts)] = 1
    expected[shapely.contains(shapely.Polygon(sq), pts)] = 2
    expected = expected.reshape(50, 60)
    assert (got == 1).sum() > 300 and (got == 2).sum() > 150
    assert (got == expected).mean() > 0.998  # pixel centres on an edge may go either way
    # without vector_fill, pixels no polygon covers are not trained on
    out = _load(img, vec, class_field='kind', label_values={'forest': 1, 'water': 2})
    assert set(np.unique(out['gt_seg_map'])) == {1, 2, 255}


def test_geojson_without_the_class_attribute(tmp_path):
    img = write_tif(tmp_path / 'img.tif', np.ones((1, 5, 5), np.uint8))
    vec = write_geojson(tmp_path / 'v.geojson',
                        [([(15, 45), (15.1, 45), (15, 45.1), (15, 45)], {'name': 'a'})])
    with pytest.raises(VectorLabelError, match=r"vector labels '.*v.geojson' have no attribute "
                                               r"'class' \(their attributes: name\)"):
        _load(img, vec, class_field='class', label_values={'a': 0})


def test_nodata_is_ignored_in_the_loss_and_the_metrics(tmp_path):
    """Labels under nodata become 255: mmseg's cross-entropy and IoU skip them, so the loss
    equals the loss over the valid pixels alone and wrong predictions there cost nothing."""
    import torch
    import torch.nn.functional as F
    from mmengine.structures import PixelData
    from mmseg.models.losses import CrossEntropyLoss
    from mmseg.structures import SegDataSample

    from altair.evaluation import ClassIoUMetric
    data = np.full((2, 16, 16), 300, np.uint16)
    data[:, :5] = 0
    img = write_tif(tmp_path / 'i.tif', data, nodata=0)
    lab = write_tif(tmp_path / 'l.tif', (np.arange(256).reshape(16, 16) % 3).astype(np.uint8))
    gt = torch.from_numpy(_load(img, lab)['gt_seg_map'].astype(np.int64))
    valid = np.zeros((16, 16), bool)
    valid[5:] = True
    logits = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    loss = CrossEntropyLoss(avg_non_ignore=True)(logits, gt[None], ignore_index=255)
    ref = F.cross_entropy(logits[0].permute(1, 2, 0)[torch.from_numpy(valid)],
                          gt[torch.from_numpy(valid)])
    assert torch.allclose(loss, ref, atol=1e-6)
    pred = gt.clone()
    pred[~torch.from_numpy(valid)] = 1  # wrong where the image has no data
    pred[gt == 255] = 2
    sample = SegDataSample(gt_sem_seg=PixelData(data=gt[None]),
                           pred_sem_seg=PixelData(data=pred[None]))
    metric = ClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process([], [sample.to_dict()])
    assert metric.compute_metrics(metric.results)['mIoU'] == 100.0
