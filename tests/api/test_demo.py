from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_end_to_end(small_bluemarble, tmp_path):
    """The four steps on the real data (val and the globe cut down: small_bluemarble)."""
    bluemarble = small_bluemarble
    import rasterio
    work = tmp_path / 'demo'
    proc = subprocess.run([sys.executable, '-m', 'altair', 'demo', '--max-iters', '2',
                           '--work-dir', str(work), '--data-root', str(bluemarble)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'val mIoU' in proc.stdout and 'snow_ice' in proc.stdout
    summary = json.loads((work / 'summary.json').read_text())
    assert 0 <= summary['mIoU'] <= 100 and set(summary['per_class_iou']) >= {'water', 'barren'}
    with rasterio.open(work / 'bluemarble_rgb_labels.tif') as src:
        assert (src.width, src.height) == (1536, 768) and src.crs.to_epsg() == 4326
        assert src.read(1).max() < 8
    import cv2
    from altair.datasets.bluemarble_classes import CLASSES, PALETTE
    from altair.visualization.overlay import legend
    below = legend(CLASSES, PALETTE, 1536).shape[0]  # the image, then its legend
    assert cv2.imread(str(work / 'globe_overlay.png')).shape == (768 + below, 1536, 3)
    assert not list(work.glob('.*partial*'))
