from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.extended
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
    # the baselines of the same run, on the same val tiles
    from altair.api.demo import tile_baselines
    assert summary['baselines'] == {k: round(v, 2)
                                    for k, v in tile_baselines(bluemarble).items()}
    assert summary['ratio_to_best_baseline'] == pytest.approx(
        summary['mIoU'] / max(tile_baselines(bluemarble).values()), abs=1e-3)
    assert 'classical baselines on the same val tiles: majority_class' in proc.stdout
    with rasterio.open(work / 'bluemarble_rgb_labels.tif') as src:
        assert (src.width, src.height) == (1536, 768) and src.crs.to_epsg() == 4326
        assert src.read(1).max() < 8
    import cv2
    from altair.datasets.bluemarble_classes import CLASSES, PALETTE
    from altair.visualization.overlay import legend
    below = legend(CLASSES, PALETTE, 1536).shape[0]  # the image, then its legend
    assert cv2.imread(str(work / 'globe_overlay.png')).shape == (768 + below, 1536, 3)
    assert not list(work.glob('.*partial*'))


def test_the_baselines_score_known_tiles(tmp_path):
    """Two classes, red and blue: the nearest class mean is perfect (mIoU 100); the majority
    class of the training tiles (red, 3/4 of them) on a half-red val tile gives IoU 50 for
    red and 0 for blue: mIoU 25 (classes absent from both sides are not averaged)."""
    import cv2
    import numpy as np

    from altair.api.demo import tile_baselines

    def tile(split, name, red_rows):
        img = np.zeros((8, 8, 3), np.uint8)
        img[:red_rows] = (255, 0, 0)
        img[red_rows:] = (0, 0, 255)
        lab = np.ones((8, 8), np.uint8)
        lab[:red_rows] = 0
        for sub, data in (('img_dir', img[:, :, ::-1]), ('ann_dir', lab)):
            (tmp_path / sub / split).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(tmp_path / sub / split / f'{name}.png'), data)
    tile('train', 'a', 8)
    tile('train', 'b', 4)
    tile('val', 'c', 4)
    assert tile_baselines(tmp_path) == pytest.approx(
        dict(majority_class=25.0, nearest_class_mean=100.0))
