from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from altair.inference.sliding import sliding_window_inference
from altair.prediction.sinks import FanOut
from altair.prediction.writers import PredictionWriter
from altair.raster.errors import ImageNotFoundError, UnsupportedImageError
from altair.raster.sources import ArraySource, RasterSource, list_images, open_image

TRANSFORM = from_origin(10.0, 50.0, 0.01, 0.01)


def _geotiff(path, data, crs='EPSG:32633'):
    with rasterio.open(path, 'w', driver='GTiff', width=data.shape[2], height=data.shape[1],
                       count=data.shape[0], dtype=data.dtype.name, crs=crs,
                       transform=TRANSFORM, tiled=True, blockxsize=16, blockysize=16) as dst:
        dst.write(data)
    return path


@pytest.mark.parametrize('bands,dtype', [(1, np.uint8), (4, np.uint16), (3, np.float32)])
def test_raster_source_reads_windows(tmp_path, bands, dtype):
    data = (np.random.default_rng(0).random((bands, 50, 70)) * 60000).astype(dtype)
    with open_image(_geotiff(tmp_path / 'a.tif', data)) as src:
        assert isinstance(src, RasterSource) and src.shape == (bands, 50, 70)
        assert src.dtype == np.dtype(dtype).name and src.crs.to_epsg() == 32633
        win = src.read(10, 30, 5, 45)
    assert win.dtype == torch.float32
    assert np.array_equal(win.numpy(), data[:, 10:30, 5:45].astype(np.float32))


def test_array_source_decodes_png_as_rgb(tmp_path):
    import cv2
    rgb = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'x.png'), rgb[:, :, ::-1])
    with open_image(tmp_path / 'x.png') as src:
        assert isinstance(src, ArraySource) and src.shape == (3, 9, 11)
        assert np.array_equal(src.read(0, 9, 0, 11).numpy(), rgb.transpose(2, 0, 1))
    g16 = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    cv2.imwrite(str(tmp_path / 'g.png'), g16)
    with open_image(tmp_path / 'g.png') as src:
        assert src.shape == (1, 3, 4) and src.dtype == 'uint16'
        assert src.read(0, 3, 0, 4)[0].tolist() == g16.astype(float).tolist()


def test_bad_paths(tmp_path):
    with pytest.raises(ImageNotFoundError, match='does not exist'):
        open_image(tmp_path / 'missing.tif')
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(UnsupportedImageError, match=r"unsupported image type '\.txt'"):
        open_image(tmp_path / 'notes.txt')
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    with pytest.raises(UnsupportedImageError, match='cannot decode'):
        open_image(tmp_path / 'bad.png')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ImageNotFoundError, match='no images'):
        list_images(tmp_path / 'empty')
    assert list_images(tmp_path) == [tmp_path / 'bad.png']


def test_streamed_geotiff_prediction_keeps_georeferencing(tmp_path):
    data = (np.random.default_rng(2).random((3, 61, 45)) * 255).astype(np.uint8)
    src_path = _geotiff(tmp_path / 'img.tif', data)
    weight = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0.3, 0.3, 0.3]])

    def predictor(x):
        return torch.einsum('kc,bchw->bkhw', weight, x)
    palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)]
    with open_image(src_path) as src:
        whole = predictor(src.read(0, 61, 0, 45)[None])[0]
        with PredictionWriter(tmp_path / 'out.tif', height=61, width=45, num_classes=4,
                              transform=src.transform, crs=src.crs,
                              probs_path=tmp_path / 'p.tif', preview_path=tmp_path / 'v.png',
                              palette=palette, preview_max_side=20) as writer:
            sliding_window_inference(src, predictor, window=16, overlap=0.5, num_classes=4,
                                     sink=FanOut([writer], 4), batch_size=3)
            written = writer.close()
    assert {k: p.name for k, p in written.items()} == dict(labels='out.tif', probs='p.tif',
                                                           preview='v.png')
    with rasterio.open(tmp_path / 'out.tif') as out:
        assert out.crs.to_epsg() == 32633 and out.transform == TRANSFORM
        assert (out.count, out.height, out.width, out.dtypes[0]) == (1, 61, 45, 'uint8')
        assert out.colormap(1)[2] == (0, 0, 255, 255)
        assert np.array_equal(out.read(1), whole.argmax(0).numpy())
    with rasterio.open(tmp_path / 'p.tif') as p:
        probs = p.read()
        assert probs.shape == (4, 61, 45) and probs.dtype == np.uint8
        expected = np.rint(torch.softmax(whole, 0).numpy() * 255)
        assert np.abs(probs.astype(int) - expected).max() <= 1
    import cv2
    # every 4th row and column (ceil(61 / 20) = 4): ceil(61 / 4) x ceil(45 / 4)
    preview = cv2.imread(str(tmp_path / 'v.png'))[:, :, ::-1]
    assert preview.shape == (16, 12, 3)
    labels = whole.argmax(0).numpy()[::4, ::4]
    assert np.array_equal(preview, np.asarray(palette, np.uint8)[labels])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['img.tif', 'out.tif', 'p.tif', 'v.png']


def test_interrupted_prediction_leaves_nothing(tmp_path):
    calls = []

    def failing(x):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return x
    with pytest.raises(KeyboardInterrupt):
        with PredictionWriter(tmp_path / 'out.tif', height=40, width=40, num_classes=1,
                              preview_path=tmp_path / 'v.png') as writer:
            sliding_window_inference(torch.rand(1, 40, 40), failing, window=8, stride=8,
                                     num_classes=1, batch_size=2,
                                     sink=FanOut([writer], 1))
            writer.close()
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_out_of_order_and_incomplete_bands(tmp_path):
    w = PredictionWriter(tmp_path / 'o.tif', height=4, width=3, num_classes=2)
    with pytest.raises(ValueError, match='expected row 0, got 2'):
        FanOut([w], 2)(2, torch.zeros(2, 2, 3))
    FanOut([w], 2)(0, torch.zeros(2, 2, 3))
    with pytest.raises(RuntimeError, match='only 2 of 4 rows'):
        w.close()
    assert list(tmp_path.iterdir()) == []


def test_float32_probabilities(tmp_path):
    logits = torch.tensor([[[0.0, 2.0]], [[1.0, 0.0]]])  # K=2, 1 row, 2 columns
    with PredictionWriter(tmp_path / 'l.tif', height=1, width=2, num_classes=2,
                          probs_path=tmp_path / 'p.tif', probs_dtype='float32') as w:
        FanOut([w], 2)(0, logits)
        w.close()
    with rasterio.open(tmp_path / 'p.tif') as p:
        assert p.dtypes[0] == 'float32'
        np.testing.assert_allclose(p.read(), torch.softmax(logits, 0).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="probs_dtype must be one of uint8, float32, got 'float16'"):
        PredictionWriter(tmp_path / 'x.tif', height=1, width=1, num_classes=1,
                         probs_path=tmp_path / 'y.tif', probs_dtype='float16')


def test_output_stems_are_distinct_for_same_named_images():
    from altair.raster.sources import output_stems
    assert output_stems([Path('d/a.tif'), Path('d/b.png')]) == ['a', 'b']
    assert output_stems([Path('d/s1/x.tif'), Path('d/s2/x.tif'), Path('d/y.tif')]) == [
        's1_x', 's2_x', 'y']
    assert output_stems([Path('d/x.tif'), Path('d/x.png'), Path('d/deep/er/x.jpg')]) == [
        'x_tif', 'x_png', 'deep_er_x']
    stems = output_stems([Path('/a/b/x.tif'), Path('/a/c/x.tif')])
    assert stems == ['b_x', 'c_x'] and len(set(stems)) == 2
