"""One band rule for training and prediction, one suffix table, one error family."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import altair.raster.errors as raster_errors
from altair.datasets.scenes import LoadRaster
from altair.raster.formats import PICTURE_SUFFIXES, VOLUME_SUFFIXES, has_suffix
from altair.raster.read import default_bands, open_raster, resolve_bands
from altair.raster.sources import open_image
from tests.datasets.raster_fixtures import write_tif


def _rgba(path):
    import rasterio
    from rasterio.enums import ColorInterp
    data = np.stack([np.full((6, 7), v, np.uint8) for v in (10, 20, 30)]
                    + [np.full((6, 7), 255, np.uint8)])
    write_tif(path, data)
    with rasterio.open(path, 'r+') as ds:
        ds.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                          ColorInterp.alpha]
    return data


def test_training_and_prediction_read_the_same_bands_of_an_rgba_raster(tmp_path):
    """An alpha band is no input band: the training loader and the prediction source both read
    bands 1-3 of an RGBA GeoTIFF (and every band of a file whose bands are all alpha)."""
    path = tmp_path / 'rgba.tif'
    data = _rgba(path)
    with open_raster(path) as src:
        assert default_bands(src) == resolve_bands(src, None) == [1, 2, 3]
        assert resolve_bands(src, [4]) == [4]  # asked for by index, it is read
    train = LoadRaster()(dict(img_path=str(path), seg_map_path=None))['img']
    np.testing.assert_array_equal(train, np.moveaxis(data[:3], 0, -1))
    with open_image(path) as source:
        assert source.bands == [1, 2, 3]
        np.testing.assert_array_equal(source.read(0, 6, 0, 7).numpy(), data[:3])


def test_one_suffix_table():
    assert has_suffix('CT_01.NII.GZ', VOLUME_SUFFIXES) and not has_suffix('a.gz', VOLUME_SUFFIXES)
    assert has_suffix('x.webp', PICTURE_SUFFIXES) and has_suffix('x.TIF', PICTURE_SUFFIXES)


def test_every_raster_error_is_in_the_family_and_an_altair_error():
    from altair.errors import AltairError
    errors = [c for _, c in inspect.getmembers(raster_errors, inspect.isclass)
              if c.__module__ == raster_errors.__name__]
    assert len(errors) >= 10 and set(errors) == set(raster_errors.RASTER_ERRORS)
    for cls in errors:  # each also the built-in that fits
        assert issubclass(cls, AltairError) and issubclass(cls, (ValueError, FileNotFoundError))


@pytest.mark.parametrize('name', ['BandError', 'LabelAlignmentError', 'VectorLabelError',
                                  'VectorFileError', 'LabelValueError', 'RasterFileError'])
def test_training_data_errors_stay_data_errors(name):
    from altair.errors import DataError
    assert issubclass(getattr(raster_errors, name), DataError)
