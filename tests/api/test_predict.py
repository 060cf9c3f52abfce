from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """Random weights of configs/pspnet.py saved as an mmengine-style checkpoint."""
    from mmengine.registry import DefaultScope

    from altair.api.config import load_config
    from altair.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config(ROOT / 'configs/pspnet.py').model)
    path = tmp_path_factory.mktemp('ckpt') / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def crop(bluemarble, tmp_path_factory):
    """A 300 x 420 GeoTIFF cut out of the full Blue Marble image, keeping its georeference."""
    src_path = bluemarble / 'bluemarble_rgb.tif'
    out = tmp_path_factory.mktemp('img') / 'africa.tif'
    with rasterio.open(src_path) as src:
        win = Window(2700, 900, 420, 300)
        profile = dict(src.profile, width=420, height=300,
                       transform=src.window_transform(win))
        with rasterio.open(out, 'w', **profile) as dst:
            dst.write(src.read(window=win))
    return out


@pytest.mark.slow
def test_predict_tool_writes_georeferenced_outputs(checkpoint, crop, tmp_path):
    proc = subprocess.run([sys.executable, 'tools/predict.py', 'configs/pspnet.py',
                           str(checkpoint), str(crop), '--out', str(tmp_path), '--window', '128',
                           '128', '--overlap', '0.5', '--probs', '--batch-size', '3'],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with rasterio.open(crop) as src, rasterio.open(tmp_path / 'africa_labels.tif') as out:
        assert out.crs == src.crs and out.transform == src.transform
        assert (out.height, out.width, out.dtypes[0]) == (300, 420, 'uint8')
        assert out.read(1).max() < 8
    with rasterio.open(tmp_path / 'africa_probs.tif') as p:
        probs = p.read().astype(int)
        assert p.count == 8 and np.abs(probs.sum(0) - 255).max() <= 8
    assert (tmp_path / 'africa_preview.png').is_file()


def test_predict_file_matches_whole_image_inference(checkpoint, crop, tmp_path):
    from altair.api.predict import load_model, predict_file
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


def test_predict_errors(checkpoint, crop, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, 'tools/predict.py', 'configs/pspnet.py', *args,
                               '--out', str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    proc = run(str(checkpoint), str(crop), '--overlap', '1.2')
    assert proc.returncode == 2 and 'overlap must be in [0, 1), got 1.2' in proc.stderr
    proc = run(str(checkpoint), str(tmp_path / 'nope.tif'))
    assert proc.returncode == 2 and "nope.tif' does not exist" in proc.stderr
    proc = run(str(tmp_path / 'x.pth'), str(crop))
    assert proc.returncode == 2 and "checkpoint '" in proc.stderr


def test_predict_file_with_tta_matches_hand_merged_flips(checkpoint, crop, tmp_path):
    from altair.api.predict import input_transform, load_model, predict_file
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
