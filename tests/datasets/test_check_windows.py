"""check-data on window datasets: the pixels per class it reports are the labels' own, and
a scene the dataset refuses is an error finding, not a crash."""
from __future__ import annotations

import numpy as np
from mmengine.config import Config

from altair.datasets.check import check_dataset
from tests.datasets.raster_fixtures import write_tif


def _cfg(img, lab, **opts) -> Config:
    ds = dict(type='RasterSceneDataset', scenes=[dict(img=str(img), ann=str(lab))],
              classes=('a', 'b', 'c'), subset='all', window_size=(48, 48), **opts)
    return Config(dict(default_scope='altair', val_dataloader=dict(dataset=ds)))


def test_class_pixels_match_the_labels(tmp_path):
    data = np.full((2, 100, 90), 7, np.uint16)
    data[:, :10] = 0  # nodata rows: ignored
    img = write_tif(tmp_path / 'i.tif', data, nodata=0)
    labels = (np.arange(100 * 90).reshape(100, 90) % 7 % 3).astype(np.uint8)
    lab = write_tif(tmp_path / 'l.tif', labels)
    report = check_dataset(_cfg(img, lab), splits=['val'], progress=False)
    assert report.ok
    [split] = report.splits
    np.testing.assert_array_equal(split.class_pixels, np.bincount(labels[10:].ravel(),
                                                                  minlength=3))
    assert split.ignored_pixels == 10 * 90


def test_refused_scene_is_an_error_finding(tmp_path):
    img = write_tif(tmp_path / 'i.tif', np.ones((2, 20, 20), np.uint16))
    lab = write_tif(tmp_path / 'l.tif', np.ones((20, 20), np.uint8))
    report = check_dataset(_cfg(img, lab, bands=[3]), splits=['val'], progress=False)
    assert not report.ok
    assert 'band 3 of raster' in report.errors[0].message
