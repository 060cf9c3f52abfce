from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.extended
def test_predict_tool_writes_georeferenced_outputs(checkpoint, crop, tmp_path):
    proc = subprocess.run([sys.executable, 'tools/predict.py', 'configs/pspnet.py',
                           str(checkpoint), str(crop), '--out', str(tmp_path), '--window', '128',
                           '128', '--overlap', '0.5', '--probs', '--window-batch', '3', '--save',
                           'labels', 'overlay', 'preview'],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with rasterio.open(crop) as src, rasterio.open(tmp_path / 'africa_labels.tif') as out:
        assert out.crs == src.crs and out.transform == src.transform
        assert (out.height, out.width, out.dtypes[0]) == (300, 420, 'uint8')
        assert out.read(1).max() < 8
    with rasterio.open(tmp_path / 'africa_probs.tif') as p:
        probs = p.read().astype(int)
        assert p.count == 8 and np.abs(probs.sum(0) - 255).max() <= 8
    import cv2
    assert cv2.imread(str(tmp_path / 'africa_preview.png')).shape == (300, 420, 3)
    from altair.api.predict import load_model
    from altair.models.card import card_of
    from altair.visualization.overlay import default_palette, with_legend
    card = card_of(load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu'))
    expected = with_legend(np.zeros((300, 420, 3), np.uint8), card.classes,  # the image, then
                           card.palette or default_palette(8)).shape  # the model's classes
    assert cv2.imread(str(tmp_path / 'africa_overlay.png')).shape == expected


def test_predict_file_matches_whole_image_inference(checkpoint, crop, tmp_path):
    from altair.api.predict import load_model
    from altair.prediction.pipeline import predict_file
    model = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    written = predict_file(model, crop, tmp_path, window=(300, 420), overlap=0.0,
                           preview=False, progress=False)
    assert set(written) == {'labels'}
    # one window covering the image: the same as mmseg's own whole-image inference
    from mmseg.apis import inference_model
    with rasterio.open(crop) as src:
        bgr = src.read().transpose(1, 2, 0)[:, :, ::-1].copy()
    expected = inference_model(model, bgr).pred_sem_seg.data[0].numpy()
    with rasterio.open(written['labels']) as out:
        assert np.array_equal(out.read(1), expected)


def test_predict_errors(checkpoint, crop, tmp_path, cli):
    def run(*args):
        return cli('predict', 'configs/pspnet.py', *args, '--out', tmp_path)
    proc = run(str(checkpoint), str(crop), '--overlap', '1.2')
    assert proc.returncode == 2 and 'overlap must be in [0, 1), got 1.2' in proc.stderr
    proc = run(str(checkpoint), str(tmp_path / 'nope.tif'))
    assert proc.returncode == 2 and "nope.tif' does not exist" in proc.stderr
    proc = run(str(tmp_path / 'x.pth'), str(crop))
    assert proc.returncode == 2 and "checkpoint '" in proc.stderr


def test_predict_file_with_tta_matches_hand_merged_flips(checkpoint, crop, tmp_path):
    from altair.api.predict import load_model
    from altair.prediction.model import input_transform
    from altair.prediction.pipeline import predict_file
    model = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    written = predict_file(model, crop, tmp_path, window=(300, 420), overlap=0.0,
                           tta=['hflip'], tta_merge='soft_vote', preview=False, progress=False)
    with rasterio.open(crop) as src:
        x = input_transform(model, 3)(torch.from_numpy(src.read()).float()[None])
    metas = [dict(img_shape=(300, 420), ori_shape=(300, 420), pad_shape=(300, 420))]
    with torch.no_grad():
        probs = (model.encode_decode(x, metas).softmax(1)
                 + model.encode_decode(x.flip(-1), metas).flip(-1).softmax(1)) / 2
    with rasterio.open(written['labels']) as out:
        labels = out.read(1)
    expected = probs[0].argmax(0).numpy()
    # gaussian blending over a single window only rescales by constant weights: exact up to
    # float rounding on near-ties
    assert (labels == expected).mean() > 0.999


def _mmseg_labels(model, rgb: np.ndarray) -> np.ndarray:
    from mmseg.apis import inference_model
    return inference_model(model, rgb[:, :, ::-1].copy()).pred_sem_seg.data[0].numpy()


def test_predict_api_inputs_and_auto_sliding_window(checkpoint, crop, tmp_path):
    import cv2

    from altair.api.predict import load_model, predict
    model = (ROOT / 'configs/pspnet.py', checkpoint)
    # 300 x 420 > the 256 x 256 training crop: sliding windows of the crop size
    [big] = predict(model, crop, out_dir=tmp_path / 'big', device='cpu', progress=False)
    assert big.sliding_window and big.source == crop and big.labels.shape == (300, 420)
    assert set(big.written) == {'labels', 'overlay'}
    with rasterio.open(big.written['labels']) as out:
        assert np.array_equal(out.read(1), big.labels)
    # an array no larger than the crop runs whole: mmseg's own inference is the reference
    with rasterio.open(crop) as src:
        rgb = src.read(window=Window(0, 0, 200, 180)).transpose(1, 2, 0).copy()
    [small] = predict(model, rgb, save=(), device='cpu', return_probs=True)
    assert not small.sliding_window and small.source is None and small.written == {}
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    assert np.array_equal(small.labels, _mmseg_labels(net, rgb))
    assert small.probs.shape == (8, 180, 200)
    np.testing.assert_allclose(small.probs.sum(0), 1.0, atol=1e-5)
    assert np.array_equal(small.probs.argmax(0), small.labels)
    # forcing the sliding-window engine with one window over the image gives the same labels
    [forced] = predict(net, rgb, save=(), sliding_window=True, window_size=(180, 200),
                       overlap=0.0)
    assert forced.sliding_window and np.array_equal(forced.labels, small.labels)
    # a glob over PNGs (sorted), TTA on, nothing outside out_dir
    folder = tmp_path / 'pngs'
    folder.mkdir()
    for name in ('b', 'a'):
        cv2.imwrite(str(folder / f'{name}.png'), rgb[:, :, ::-1])
    preds = predict(net, str(folder / '*.png'), tta=True, tta_transforms=['hflip', 'vflip'],
                    out_dir=tmp_path / 'out', save=('overlay',))
    assert [p.source.name for p in preds] == ['a.png', 'b.png']
    assert sorted(q.name for q in (tmp_path / 'out').iterdir()) == ['a_overlay.png',
                                                                      'b_overlay.png']


def test_predict_api_errors(checkpoint, crop, tmp_path):
    from altair.api.predict import PredictOptionError, predict
    from altair.inference.grid import WindowArgumentError
    from altair.raster.errors import ImageNotFoundError, UnsupportedImageError
    model = (ROOT / 'configs/pspnet.py', checkpoint)
    with pytest.raises(ImageNotFoundError, match="'.*nope.tif' does not exist"):
        predict(model, tmp_path / 'nope.tif')
    with pytest.raises(ImageNotFoundError, match=r"no images match '.*\*.jpg'"):
        predict(model, str(tmp_path / '*.jpg'))
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(UnsupportedImageError, match="unsupported image type '.txt'"):
        predict(model, tmp_path / 'notes.txt', save=())
    with pytest.raises(WindowArgumentError, match=r'window must be >= 1 in both dimensions, '
                                                  r'got \(0, 256\)'):
        predict(model, crop, window_size=(0, 256))
    with pytest.raises(PredictOptionError, match="unknown save kind 'labelz'; choose from "
                                                 'labels, overlay, probs, preview, polygons'):
        predict(model, crop, save=('labelz',))
    with pytest.raises(PredictOptionError, match='model must be a run id, a Run, '):
        predict(42, crop)


def test_outputs_beyond_the_memory_limit_are_files(checkpoint, crop, tmp_path, monkeypatch):
    import altair.prediction.pipeline as api
    from altair.api.predict import PredictOptionError, load_model, predict
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    monkeypatch.setattr(api, 'IN_MEMORY_PIXELS', 100 * 100)
    [big] = predict(net, crop, save=(), out_dir=tmp_path, progress=False)
    assert big.labels == tmp_path / 'africa_labels.tif' and big.written == {'labels': big.labels}
    with rasterio.open(big.labels) as out:
        assert (out.height, out.width) == (300, 420)
    with pytest.raises(PredictOptionError, match='too large to predict whole; use '
                                                 "sliding_window=True or 'auto'"):
        predict(net, crop, sliding_window=False, save=(), out_dir=tmp_path)


def test_predict_nodata_cog_and_uncertainty(checkpoint, framed, tmp_path):
    from rio_cogeo.cogeo import cog_validate

    from altair.api.predict import load_model, predict
    from altair.prediction.model import nodata_fill
    from altair.inference.grid import window_grid
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    with rasterio.open(framed) as src:
        data = src.read()
    valid = ~(data == 0).all(0)
    [pred] = predict(net, framed, window_size=(64, 64), overlap=0.0, out_dir=tmp_path,
                     save=('labels', 'probs', 'polygons'), uncertainty='entropy',
                     progress=False, return_probs=True)
    grid = window_grid(300, 420, (64, 64), (64, 64))
    assert pred.windows == len(grid)
    assert pred.skipped_windows == sum(not valid[y:y + 64, x:x + 64].any() for y, x in grid) > 0
    assert (pred.labels[~valid] == 255).all() and (pred.labels[valid] < 8).all()
    assert np.isnan(pred.uncertainty[~valid]).all() and not np.isnan(pred.uncertainty[valid]).any()
    for kind in ('labels', 'probs', 'uncertainty'):  # georeferenced: COG by default
        ok, errors, _ = cog_validate(str(pred.written[kind]), quiet=True)
        assert ok and not errors, (kind, errors)
    with rasterio.open(pred.written['labels']) as out:
        assert out.nodata == 255 and np.array_equal(out.read(1), pred.labels)
        pixel_area = abs(out.transform.a * out.transform.e)
        crs = out.crs
    # polygons: per class, their areas add up to the class's pixels; none in the nodata
    import pyogrio.raw
    meta, _, _, (cls, names, areas, _) = pyogrio.raw.read(pred.written['polygons'])
    assert rasterio.crs.CRS.from_user_input(meta['crs']) == crs
    for c in range(8):
        expected = (pred.labels == c).sum() * pixel_area
        assert areas[cls == c].sum() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert set(names) <= set(net.dataset_meta['classes'])
    # elsewhere the labels are those of the image with its nodata read as the model's mean
    filled = data.astype(np.float32)
    filled[:, ~valid] = np.asarray(nodata_fill(net, 3), np.float32)[:, None]
    [plain] = predict(net, filled.transpose(1, 2, 0), window_size=(64, 64), overlap=0.0,
                      save=(), sliding_window=True, progress=False)
    assert plain.skipped_windows == 0
    assert np.array_equal(pred.labels[valid], plain.labels[valid])
    # --format gtiff: the plain streamed GeoTIFF
    [gt] = predict(net, framed, window_size=(64, 64), overlap=0.0, out_dir=tmp_path / 'g',
                   save=('labels',), format='gtiff', progress=False)
    with rasterio.open(gt.written['labels']) as out:
        assert out.overviews(1) == []


def test_predict_nodata_and_uncertainty_errors(checkpoint, crop, tmp_path, cli):
    def run(*args):
        return cli('predict', 'configs/pspnet.py', checkpoint, crop, '--out', tmp_path, *args)
    proc = run('--nodata', '300')
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: nodata 300 is outside what '{crop}' (uint8) can hold: give an integer in "
        '[0, 255]')
    proc = run('--save', 'polygons', '--min-area', '-3')
    assert proc.returncode == 2 and proc.stderr.strip().endswith(
        'error: min_area must be a number >= 0, got -3.0')
    proc = run('--uncertainty', 'tta-variance')
    assert proc.returncode == 2 and proc.stderr.strip().endswith(
        "error: uncertainty 'tta-variance' needs test-time augmentation (--tta / tta=True)")
    assert list(tmp_path.iterdir()) == []


def _tile(src, win, path):
    with rasterio.open(path, 'w', **dict(src.profile, width=win.width, height=win.height,
                                         transform=src.window_transform(win))) as dst:
        dst.write(src.read(window=win))
    return path


def test_predict_mosaic_of_four_tiles_equals_the_scene(checkpoint, crop, tmp_path):
    from altair.api.predict import load_model, predict
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    tiles = tmp_path / 'tiles'
    tiles.mkdir()
    with rasterio.open(crop) as src:
        for i, (r0, r1) in enumerate([(0, 170), (170, 300)]):
            for j, (c0, c1) in enumerate([(0, 250), (250, 420)]):
                _tile(src, Window(c0, r0, c1 - c0, r1 - r0), tiles / f'{i}{j}.tif')
    [scene] = predict(net, crop, save=('labels',), out_dir=tmp_path / 'a', window_size=(128, 128),
                      progress=False)
    [mosaic] = predict(net, tiles, mosaic='africa', save=('labels',), out_dir=tmp_path / 'b',
                       window_size=(128, 128), progress=False)
    assert mosaic.written['labels'] == tmp_path / 'b' / 'africa_labels.tif'
    assert np.array_equal(mosaic.labels, scene.labels)
    with rasterio.open(mosaic.written['labels']) as a, rasterio.open(crop) as b:
        assert a.transform == b.transform and a.crs == b.crs


def test_predict_mosaic_and_polygon_cli_errors(checkpoint, crop, tmp_path, cli):
    import cv2
    tiles = tmp_path / 'tiles'
    tiles.mkdir()
    with rasterio.open(crop) as src:
        _tile(src, Window(0, 0, 100, 100), tiles / 'a.tif')
        profile = dict(src.profile, count=2, width=100, height=100,
                       transform=src.window_transform(Window(100, 0, 100, 100)))
        with rasterio.open(tiles / 'b.tif', 'w', **profile) as dst:
            dst.write(src.read([1, 2], window=Window(100, 0, 100, 100)))
    out = tmp_path / 'out'

    def run(*args):
        return cli('predict', 'configs/pspnet.py', checkpoint, *args, '--out', out)
    proc = run(str(tiles), '--mosaic', 'm')
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: mosaic member '{tiles / 'b.tif'}' has 2 band(s) but '{tiles / 'a.tif'}' has 3: "
        'every member needs the same bands')
    assert not out.exists()
    # polygons of an image without a CRS: written, with a warning that says so
    with rasterio.open(crop) as src:
        cv2.imwrite(str(tmp_path / 'plain.png'), src.read(window=Window(0, 0, 120, 100))
                    .transpose(1, 2, 0)[:, :, ::-1])
    proc = run(str(tmp_path / 'plain.png'), '--save', 'polygons')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "the raster has no CRS, so their coordinates and areas are in pixels" in proc.stderr
    assert (out / 'plain_polygons.gpkg').is_file()


def _interrupting(monkeypatch, after):
    """Make the model's window predictor raise KeyboardInterrupt on call ``after`` + 1."""
    import altair.models.predictor as seg
    real = seg.window_predictor

    def patched(model):
        predictor, calls = real(model), []

        def run(x):
            calls.append(1)
            if len(calls) > after:
                raise KeyboardInterrupt
            return predictor(x)
        return run
    monkeypatch.setattr(seg, 'window_predictor', patched)


@pytest.mark.parametrize('polygons_format', ['gpkg', 'geojson'])
def test_interrupted_then_resumed_prediction_is_byte_identical(checkpoint, framed, tmp_path,
                                                               monkeypatch, polygons_format):
    import pyogrio.raw

    from altair.api.predict import load_model, predict
    from altair.prediction.journal import ResumeError
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    kw = dict(window_size=(64, 64), overlap=0.5, window_batch=3, progress=False,
              save=('labels', 'probs', 'polygons'), uncertainty='margin',
              polygons_format=polygons_format)
    [ref] = predict(net, framed, out_dir=tmp_path / 'ref', **kw)
    with monkeypatch.context() as m:
        _interrupting(m, after=12)
        with pytest.raises(KeyboardInterrupt):
            predict(net, framed, out_dir=tmp_path / 'cut', **kw)
    left = sorted(p.name for p in (tmp_path / 'cut').iterdir())
    assert '.framed.journal.json' in left and not any(n.startswith('framed_') for n in left)
    with pytest.raises(ResumeError, match="'window' differs from the interrupted run "
                                          r'\(\[64, 64\] there, \[96, 96\] now\)'):
        predict(net, framed, out_dir=tmp_path / 'cut', resume=True,
                **dict(kw, window_size=(96, 96)))
    [res] = predict(net, framed, out_dir=tmp_path / 'cut', resume=True, **kw)
    for kind in ('labels', 'probs', 'uncertainty'):
        assert res.written[kind].read_bytes() == ref.written[kind].read_bytes(), kind
    assert np.array_equal(res.labels, ref.labels)
    np.testing.assert_array_equal(res.uncertainty, ref.uncertainty)
    if polygons_format == 'geojson':
        assert res.written['polygons'].read_bytes() == ref.written['polygons'].read_bytes()
    a, b = (pyogrio.raw.read(p.written['polygons']) for p in (ref, res))
    assert list(a[2]) == list(b[2]) and all(np.array_equal(x, y) for x, y in zip(a[3], b[3]))
    assert sorted(p.name for p in (tmp_path / 'cut').iterdir()) == sorted(
        p.name for p in (tmp_path / 'ref').iterdir())
    # finished: nothing left to resume, so --resume starts fresh (a requeued job) and
    # writes the same files again
    [again] = predict(net, framed, out_dir=tmp_path / 'cut', resume=True, **kw)
    assert again.written['labels'].read_bytes() == ref.written['labels'].read_bytes()


def test_models_trained_through_loadraster_see_file_band_order(checkpoint, tmp_path):
    """A LoadRaster pipeline hands the model bands as stored (RGB), OpenCV's loader BGR:
    3-band windows are flipped for the latter only, and the config tells which."""
    from altair.api.predict import load_model
    from altair.models.card import ModelCard
    from altair.prediction.model import input_transform, nodata_fill
    from altair.config import load_config, raster_options
    scene_cfg = load_config(ROOT / 'configs/pspnet/pspnet_r18-d16_1xb8-600it_bluemarble-scene-'
                                   '256x256.py')
    assert raster_options(scene_cfg) == dict(file_order=True)
    assert raster_options(load_config(ROOT / 'configs/pspnet.py')) == {}
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    x = torch.rand(1, 3, 8, 8) * 255
    pre = net.data_preprocessor
    mean, std = pre.mean[None], pre.std[None]
    assert torch.allclose(input_transform(net, 3)(x), (x - mean) / std)  # bgr_to_rgb=True
    pre.channel_conversion = False  # as bgr_to_rgb=False: OpenCV's BGR went in untouched
    assert torch.allclose(input_transform(net, 3)(x), (x.flip(1) - mean) / std)
    assert nodata_fill(net, 3) == [float(v) for v in pre.mean.flatten()][::-1]
    net.altair_card = ModelCard(raster=dict(file_order=True))  # LoadRaster: RGB untouched
    assert torch.allclose(input_transform(net, 3)(x), (x - mean) / std)
    assert nodata_fill(net, 3) == [float(v) for v in pre.mean.flatten()]


def test_predict_batches_windows_by_the_probe(checkpoint, crop, tmp_path, monkeypatch):
    """Without window_batch the windows run in the batch the probe picked (and cached); an
    explicit window_batch is used as given."""
    import altair.inference.autotune as at
    from altair.api.predict import load_model, predict
    from altair.inference.grid import window_grid
    monkeypatch.setenv('ALTAIR_BATCH_PROBE', '1')
    monkeypatch.setenv('ALTAIR_CACHE', str(tmp_path))
    monkeypatch.setattr(at, '_MEMO', {})
    # 2 images per call are the fastest per image here
    monkeypatch.setattr(at, 'time_batches', lambda run, candidates: {1: 1.0, 2: 1.2, 4: 4.0,
                                                                     8: 8.0})
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    sizes = []
    real = net.encode_decode
    monkeypatch.setattr(net, 'encode_decode',
                        lambda x, metas: sizes.append(x.shape[0]) or real(x, metas))
    n = len(window_grid(300, 420, (128, 128), (96, 96)))
    kw = dict(window_size=(128, 128), overlap=0.25, save=(), progress=False,
              sliding_window=True)
    predict(net, crop, **kw)
    assert sizes == [2] * (n // 2) + [1] * (n % 2)
    assert list(json.loads((tmp_path / at.CACHE_FILE).read_text()).values()) == [2]
    sizes.clear()
    predict(net, crop, window_batch=5, **kw)
    assert sizes == [5] * (n // 5) + [n % 5] * (n % 5 > 0)
    # batch_size= is the former name: the same batches, a warning once, refused beside the new
    from altair import errors
    monkeypatch.setattr(errors, '_WARNED', set())
    sizes.clear()
    with pytest.warns(FutureWarning, match='^batch_size= is deprecated: use window_batch=$'):
        predict(net, crop, batch_size=3, **kw)
    assert sizes == [3] * (n // 3) + [n % 3] * (n % 3 > 0)
    with pytest.raises(errors.RenamedKeywordError, match='batch_size=3 and window_batch=5'):
        predict(net, crop, batch_size=3, window_batch=5, **kw)


def test_same_named_images_in_sub_folders_get_their_own_outputs(checkpoint, crop, tmp_path):
    import cv2

    from altair.api.predict import load_model, predict
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    with rasterio.open(crop) as src:
        rgb = src.read(window=Window(0, 0, 64, 48)).transpose(1, 2, 0).copy()
    for sub, img in (('s1', rgb), ('s2', rgb[::-1].copy())):
        (tmp_path / 'in' / sub).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / 'in' / sub / 'x.png'), img[:, :, ::-1])
    preds = predict(net, tmp_path / 'in', out_dir=tmp_path / 'out', save=('labels',),
                    progress=False)
    assert sorted(q.name for q in (tmp_path / 'out').iterdir()) == ['s1_x_labels.tif',
                                                                      's2_x_labels.tif']
    for pred, sub in zip(preds, ('s1', 's2')):  # each file holds its own image's labels
        [alone] = predict(net, tmp_path / 'in' / sub / 'x.png', save=(), progress=False)
        with rasterio.open(pred.written['labels']) as out:
            assert np.array_equal(out.read(1), alone.labels)


def test_resume_with_nothing_to_resume_starts_fresh(checkpoint, crop, tmp_path, cli):
    """A requeued job (Slurm, a cron retry) runs the same command every time: --resume with
    no journal starts the prediction and says so in one line."""
    from altair.api.predict import load_model, predict
    args = ['predict', 'configs/pspnet.py', checkpoint, crop, '--window', '128', '128',
            '--save', 'labels', '--window-batch', '4', '--format', 'gtiff']
    proc = cli(*args, '--out', tmp_path / 'a', '--resume')
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = [ln for ln in proc.stderr.splitlines() if 'nothing to resume' in ln]
    assert said == [f"altair: africa: --resume: nothing to resume (no journal "
                    f"'.africa.journal.json' in '{tmp_path / 'a'}'); starting fresh"]
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    [ref] = predict(net, crop, out_dir=tmp_path / 'b', window_size=(128, 128), window_batch=4,
                    save=('labels',), format='gtiff', progress=False)
    assert (tmp_path / 'a' / 'africa_labels.tif').read_bytes() == \
        ref.written['labels'].read_bytes()
    assert sorted(p.name for p in (tmp_path / 'a').iterdir()) == ['africa_labels.tif']
    # an overlay alone is not journaled: never anything to resume
    proc = cli(*args[:-6], '--save', 'overlay', '--out', tmp_path / 'c', '--resume')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'africa: --resume: nothing to resume (only labels, probs, preview, polygons and ' \
        'uncertainty are streamed and journaled); starting fresh' in proc.stderr
    assert sorted(p.name for p in (tmp_path / 'c').iterdir()) == ['africa_overlay.png']


def test_a_window_larger_than_the_image_is_cut_to_it(checkpoint, crop, tmp_path, monkeypatch,
                                                     caplog):
    """--window 100000 100000 on a 300x420 image: the engine gets a 300x420 window (nothing
    allocates the 10^10-pixel window), one log line says so, and the labels are the
    whole-image prediction's."""
    import logging

    import altair.prediction.pipeline as sliding
    from altair.api.predict import load_model, predict
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    real, windows = sliding.sliding_window_inference, []

    def spy(src, predictor, *, window, stride, **kw):
        windows.append((window, stride))
        assert window[0] <= src.shape[1] and window[1] <= src.shape[2], window  # not run
        return real(src, predictor, window=window, stride=stride, **kw)
    monkeypatch.setattr(sliding, 'sliding_window_inference', spy)
    with caplog.at_level(logging.INFO, logger='altair'):
        [big] = predict(net, crop, sliding_window=True, window_size=(100000, 100000),
                        save=(), progress=False)
        [big_stride] = predict(net, crop, sliding_window=True, window_size=(100000, 256),
                               stride=(50000, 200), save=(), progress=False)
    assert windows == [((300, 420), (225, 315)), ((300, 256), (300, 200))]
    assert [r.getMessage() for r in caplog.records if 'larger than' in r.getMessage()] == [
        'africa: window 100000x100000 is larger than the 300x420 image; using 300x420',
        'africa: window 100000x256 is larger than the 300x420 image; using 300x256']
    [whole] = predict(net, crop, sliding_window=False, save=(), progress=False)
    assert np.array_equal(big.labels, whole.labels)
    assert big_stride.labels.shape == (300, 420)


_HOLDER = """
import sys
from altair.prediction.lock import OutputLock, lock_path
lock = OutputLock(lock_path(sys.argv[1], 'africa'), "'africa_*'")
lock.acquire()
print('held', flush=True)
sys.stdin.read()  # until the test closes our stdin (or kills us)
lock.release()
"""


def _hold_lock(out: Path) -> subprocess.Popen:
    """Another process holding the lock of ``out``'s africa_* outputs (as a running
    prediction does), once this returns."""
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, '-c', _HOLDER, str(out)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'held'
    return proc


def test_a_second_prediction_into_the_same_outputs_is_refused(checkpoint, crop, tmp_path,
                                                              cli):
    """Two predictions writing the same outputs: the one that comes second is told in one
    line who holds them and exits 2, writing nothing; once the holder ends it runs; a lock
    whose process was killed is taken over."""
    import signal
    import socket
    out = tmp_path / 'out'
    args = ['predict', 'configs/pspnet.py', checkpoint, crop, '--out', out, '--window', '128',
            '128', '--save', 'labels', '--window-batch', '4']
    holder = _hold_lock(out)
    try:
        proc = cli(*args)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert proc.stderr.strip().splitlines()[-1].startswith(
            f"error: outputs 'africa_*' in '{out}' are being written by another prediction "
            f'(pid {holder.pid} on {socket.gethostname()}, since ')
        assert sorted(p.name for p in out.iterdir()) == ['.africa.lock']  # the holder's
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert list(out.iterdir()) == []  # released and removed
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ['africa_labels.tif']
    # a holder killed outright leaves its lock file; the kernel released the lock with it
    holder = _hold_lock(out)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    assert (out / '.africa.lock').is_file()
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"of pid {holder.pid} on {socket.gethostname()}, which ended without releasing " \
        'it' in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ['africa_labels.tif']


def test_the_lock_is_one_holder_at_a_time(tmp_path):
    """Within one process too (flock is per open file): the second acquire fails while the
    first holds, and succeeds after its release; the lock file goes with the release."""
    import os

    from altair.errors import AltairError
    from altair.prediction.lock import OutputLock, OutputLockedError, lock_path
    path = lock_path(tmp_path, 'x')
    first, second = OutputLock(path, "'x_*'"), OutputLock(path, "'x_*'")
    with first:
        with pytest.raises(OutputLockedError, match=rf"\(pid {os.getpid()} on "):
            second.acquire()
        assert isinstance(OutputLockedError('m'), AltairError)
    assert not path.exists()
    with second:
        assert json.loads(path.read_text())['pid'] == os.getpid()
    assert not path.exists()
