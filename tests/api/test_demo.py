from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from altair.api.demo import predict_full_image

ROOT = Path(__file__).resolve().parents[2]


class _PerPixelModel(torch.nn.Module):
    """Stands in for an EncoderDecoder: a 1x1 linear map, so windows stitch exactly."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Conv2d(3, 4, 1)
        self.data_preprocessor = SimpleNamespace(mean=torch.tensor([120.0, 110.0, 100.0]),
                                                 std=torch.tensor([50.0, 60.0, 70.0]))
        self.decode_head = SimpleNamespace(num_classes=4)

    def encode_decode(self, inputs, metas):
        assert all(tuple(m['img_shape']) == tuple(inputs.shape[2:]) for m in metas)
        return self.proj(inputs)


def test_predict_full_image_normalises_and_stitches_like_one_pass():
    torch.manual_seed(0)
    model = _PerPixelModel()
    rgb = np.random.default_rng(0).integers(0, 256, (70, 130, 3), dtype=np.uint8)
    labels = predict_full_image(model, rgb, window=32, stride=24, batch_size=3)
    x = torch.from_numpy(rgb).permute(2, 0, 1).float()
    x = (x - model.data_preprocessor.mean[:, None, None]) / model.data_preprocessor.std[:, None, None]
    with torch.no_grad():
        expected = model.proj(x[None])[0].argmax(0).numpy().astype(np.uint8)
    assert labels.dtype == np.uint8 and labels.shape == (70, 130)
    assert np.array_equal(labels, expected)


@pytest.mark.slow
def test_demo_end_to_end(bluemarble, tmp_path):
    import rasterio
    work = tmp_path / 'demo'
    proc = subprocess.run([sys.executable, '-m', 'altair', 'demo', '--max-iters', '2',
                           '--work-dir', str(work), '--data-root', str(bluemarble)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'val mIoU' in proc.stdout and 'snow_ice' in proc.stdout
    summary = json.loads((work / 'summary.json').read_text())
    assert 0 <= summary['mIoU'] <= 100 and set(summary['per_class_iou']) >= {'water', 'barren'}
    with rasterio.open(work / 'globe_labels.tif') as src:
        assert (src.width, src.height) == (5400, 2700) and src.crs.to_epsg() == 4326
        assert src.read(1).max() < 8
    import cv2
    assert cv2.imread(str(work / 'globe_overlay.png')).shape == (2700, 5400, 3)
    assert not list(work.glob('.*partial*'))
