#!/usr/bin/env python
"""Prediction at scale: nodata skipping, COG output, resume, polygons, 30000x30000 memory.

Parts 1-5 predict real imagery (the Blue Marble) with the demo PSPNet (``configs/pspnet.py``;
random weights: speed does not depend on them), window 512, overlap 0.25, batch 4, fp32.
Parts 1-4 run in this process with one loaded model:

1. ``nodata``: a 2048x4096 cut with its western half set to 0 and tagged nodata, against the
   same pixels untagged (every window predicted). Goal: ratio <= 0.6.
2. ``cog``: labels + probabilities of the cut as COG against plain tiled GeoTIFF. Goal: <= 1.05.
3. ``resume``: the whole Blue Marble transposed (5400 rows x 2700 columns: a tall scene of 14
   grid rows, as long scenes are) stopped at half of its windows (KeyboardInterrupt from the
   predictor) then ``resume=True``, total time against one uninterrupted run. Goal: <= 1.1.
4. ``polygons``: labels + polygons (GeoPackage) of the cut against labels only.
5. ``processes``: ``altair predict CONFIG CHECKPOINT tall.tif`` (the config's 256x256 training
   crop as the window: 28 x 14 windows) against the same command with ``--processes 2`` (the
   tall scene split into two row blocks, one CPU core each; the baseline uses both cores in
   one process), each a fresh process from start to end (imports, model, prediction, COG).
   Goal: ratio (one process's time / two processes') >= 0.95.

Part 6 (``--scale``, a few minutes): the synthetic smooth 30000x30000 3-band GeoTIFF of
``benchmarks/sliding_window.py`` with labels (COG) and polygons on, in its own process: peak
RSS, goal 2.5 GB. What scales with the image is measured — reading, blending, writing the
COG, polygonising — not a segmentation model's activations, which are per batch: the
predictor is per-pixel maths (:func:`region_net`) whose labels form regions of thousands of
pixels, some spanning many bands, as a trained model's do. (The random 2-layer net of
``sliding_window.py`` labels salt and pepper: 2.4 million polygons in the first 56 % of the
rows, which measures the GeoPackage driver rather than the streaming.)

N GPUs against one is measured only where GPUs are (``--gpus N`` replaces ``--processes``).
Prints one JSON line per part.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
PARTS = ('nodata', 'cog', 'resume', 'polygons', 'processes')
KW = dict(window_size=(512, 512), overlap=0.25, window_batch=4, precision='fp32',
          progress=False)


def _cut(data_root: Path, out: Path, nodata: bool) -> Path:
    import numpy as np
    import rasterio
    from rasterio.windows import Window
    with rasterio.open(data_root / 'bluemarble_rgb.tif') as src:
        win = Window(600, 300, 4096, 2048)
        data = np.maximum(src.read(window=win), 1)  # 0 only where we put nodata
        profile = dict(src.profile, width=4096, height=2048, transform=src.window_transform(win),
                       tiled=True, blockxsize=256, blockysize=256, compress='deflate')
    data[:, :, :2048] = 0
    if nodata:
        profile['nodata'] = 0
    else:
        profile.pop('nodata', None)
    with rasterio.open(out, 'w', **profile) as dst:
        dst.write(data)
    return out


def _tall(data_root: Path, out: Path) -> Path:
    """The whole Blue Marble transposed: 5400 rows x 2700 columns, real pixels, no CRS."""
    import numpy as np
    import rasterio
    with rasterio.open(data_root / 'bluemarble_rgb.tif') as src:
        data = np.ascontiguousarray(src.read().transpose(0, 2, 1))
    with rasterio.open(out, 'w', driver='GTiff', width=data.shape[2], height=data.shape[1],
                       count=3, dtype='uint8', tiled=True, blockxsize=256, blockysize=256,
                       compress='deflate') as dst:
        dst.write(data)
    return out


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired(fn_a, fn_b, reps: int) -> tuple[float, float]:
    """Best of ``reps`` times of each, the two run in turn (a, b, a, b, ...) so that a slow
    spell of a shared machine falls on both."""
    times = [(_timed(fn_a), _timed(fn_b)) for _ in range(reps)]
    return min(a for a, _ in times), min(b for _, b in times)


def _line(name, ours, base, goal, unit, **extra):
    print(json.dumps(dict(name=name, ratio=round(ours / base, 3), baseline=round(base, 2),
                          ours=round(ours, 2), goal=goal, unit=unit, **extra)), flush=True)


def parts(data_root: Path, tmp: Path, reps: int, only: set) -> None:
    import torch
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    import altair.models.predictor as composed
    from altair.api.predict import predict
    from altair.config import load_config
    from altair.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        net = revert_sync_batchnorm(MODELS.build(load_config(ROOT / 'configs/pspnet.py').model))
    net.dataset_meta = dict(classes=[f'c{k}' for k in range(8)])
    tagged, untagged = (_cut(data_root, tmp / f'{n}.tif', n == 'tagged')
                        for n in ('tagged', 'untagged'))

    def run(image, out, **kw):
        return predict(net, image, out_dir=tmp / out, **dict(KW, **kw))
    run(untagged, 'warm', save=('labels',), format='gtiff')  # first-call costs out

    def best(fn_a, fn_b):
        return paired(fn_a, fn_b, reps)
    if 'nodata' in only:
        nodata(run, best, tagged, untagged)
    both = ('labels', 'probs')
    if 'cog' in only:
        t_cog, t_gtiff = best(lambda: run(untagged, 'c', save=both, format='cog'),
                              lambda: run(untagged, 'd', save=both, format='gtiff'))
        _line('predict_cog_vs_gtiff', t_cog, t_gtiff, '<= 1.05',
              'seconds (labels + uint8 probs)')
    if 'resume' in only:
        resume(run, best, composed, _tall(data_root, tmp / 'tall.tif'), tmp)
    if 'polygons' in only:
        t_poly, t_labels = best(
            lambda: run(untagged, 'f', save=('labels', 'polygons'), format='gtiff'),
            lambda: run(untagged, 'g', save=('labels',), format='gtiff'))
        import pyogrio
        features = pyogrio.read_info(tmp / 'f' / 'untagged_polygons.gpkg')['features']
        _line('predict_polygons_overhead', t_poly, t_labels, None, 'seconds (labels + '
              'GeoPackage vs labels)', features=features)


def nodata(run, best, tagged, untagged) -> None:
    t_nodata, t_full = best(lambda: run(tagged, 'a', save=('labels',), format='gtiff'),
                            lambda: run(untagged, 'b', save=('labels',), format='gtiff'))
    [p] = run(tagged, 'a', save=('labels',), format='gtiff')
    _line('predict_50pct_nodata_vs_none', t_nodata, t_full, '<= 0.6', 'seconds',
          windows=p.windows, skipped=p.skipped_windows)


def resume(run, best, composed, tall: Path, tmp: Path) -> None:
    """``composed``: the module whose ``window_predictor`` prediction calls (patched to
    raise KeyboardInterrupt after half of the batches)."""
    from altair.inference.grid import window_grid
    both = ('labels', 'probs')
    half = -(-len(window_grid(5400, 2700, (512, 512), (384, 384))) // 4) // 2  # batches

    def stopped_then_resumed():
        real, calls = composed.window_predictor, []

        def patched(model):
            predictor = real(model)

            def stop_half(x):
                calls.append(1)
                if len(calls) > half:
                    raise KeyboardInterrupt
                return predictor(x)
            return stop_half
        composed.window_predictor = patched
        try:
            run(tall, 'e', save=both, format='cog')
        except KeyboardInterrupt:
            pass
        else:  # the patch missed the predictor: this would time two whole runs
            raise SystemExit('resume part: the run was not stopped at half (is '
                             f'{composed.__name__}.window_predictor what prediction calls?)')
        finally:
            composed.window_predictor = real
        run(tall, 'e', save=both, format='cog', resume=True)
    t_resume, t_whole = best(stopped_then_resumed,
                             lambda: run(tall, 'h', save=both, format='cog'))
    identical = all((tmp / 'e' / f'tall_{k}.tif').read_bytes() ==
                    (tmp / 'h' / f'tall_{k}.tif').read_bytes() for k in both)
    _line('predict_stopped_at_half_then_resumed_vs_uninterrupted', t_resume, t_whole, '<= 1.1',
          'seconds (labels + uint8 probs, COG)', byte_identical=identical,
          windows=len(window_grid(5400, 2700, (512, 512), (384, 384))))


def processes(data_root: Path, tmp: Path, n: int, reps: int, flag: str = '--processes'
              ) -> None:
    """``altair predict`` of the tall scene in one process against ``n`` (fresh processes)."""
    import torch
    from mmengine.registry import DefaultScope

    from altair.config import load_config
    from altair.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config(ROOT / 'configs/pspnet.py').model)
    ckpt = tmp / 'pspnet.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    tall = tmp / 'tall.tif'
    if not tall.is_file():
        _tall(data_root, tall)

    def cli(out, *extra):
        cmd = [sys.executable, '-m', 'altair', 'predict', 'configs/pspnet.py', str(ckpt),
               str(tall), '--out', str(tmp / out), '--overlap', '0.25', '--window-batch', '4',
               '--save', 'labels', '--format', 'cog', *extra]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f'{" ".join(cmd)} failed:\n{proc.stderr[-3000:]}')

    t_one, t_many = paired(lambda: cli('one'), lambda: cli('many', flag, str(n)), reps)
    identical = (tmp / 'one/tall_labels.tif').read_bytes() == \
        (tmp / 'many/tall_labels.tif').read_bytes()
    # a throughput ratio: one process's time over n processes'
    print(json.dumps(dict(name=f'predict_{n}_{flag[2:]}_vs_1', ratio=round(t_one / t_many, 3),
                          baseline=round(t_one, 2), ours=round(t_many, 2), goal='>= 0.95',
                          unit='seconds, a fresh process each; ratio = baseline / ours',
                          labels_identical=identical,
                          threads_per_process=max(1, (os.cpu_count() or 1) // n))), flush=True)


def region_net(x):
    """(B, 3, h, w) pixels of the synthetic scene scaled to [0, 1] → (B, 10, h, w) logits whose
    labels are 10 levels of sin x cos of its two smooth bands: blobs and rings of thousands of
    pixels."""
    import torch
    s = (x[:, 0:1] * 255 - 127) / 120
    c = (x[:, 1:2] * 255 - 127) / 120
    centres = torch.linspace(-1, 1, 10, device=x.device).view(1, 10, 1, 1)
    return -40 * (s * c - centres) ** 2


def scale_worker(image: str, out_dir: str) -> dict:
    from sliding_window import SCALE_CLASSES

    from altair.inference.sliding import sliding_window_inference
    from altair.prediction.polygons import PolygonWriter
    from altair.prediction.sinks import FanOut
    from altair.prediction.writers import PredictionWriter
    from altair.raster.sources import open_image, raster_env
    net = region_net
    t0 = time.perf_counter()
    with raster_env(), open_image(image) as src:
        _, h, w = src.shape
        labels = PredictionWriter(Path(out_dir) / 'labels.tif', height=h, width=w,
                                  num_classes=SCALE_CLASSES, transform=src.transform,
                                  crs=src.crs, format='cog')
        polygons = PolygonWriter(Path(out_dir) / 'polygons.gpkg', width=w, height=h,
                                 num_classes=SCALE_CLASSES, transform=src.transform,
                                 crs=src.crs)
        sliding_window_inference(src, net, window=512, stride=384, num_classes=SCALE_CLASSES,
                                 batch_size=8, preprocess=lambda x: x / 255.0,
                                 sink=FanOut([labels, polygons], SCALE_CLASSES))
        labels.close()
        polygons.close()
    import pyogrio
    return dict(seconds=time.perf_counter() - t0,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                features=pyogrio.read_info(Path(out_dir) / 'polygons.gpkg')['features'])


def scale(workdir: str | None) -> None:
    from sliding_window import SCALE_SIDE, _make_huge_geotiff
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        image = os.path.join(tmp, 'huge.tif')
        _make_huge_geotiff(image, SCALE_SIDE)
        proc = subprocess.run([sys.executable, __file__, '--scale-worker', '--image', image,
                               '--out', tmp], cwd=ROOT, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
        if proc.returncode != 0 or not lines:
            sys.exit(f'scale run failed:\n{proc.stderr[-3000:]}')
        res = json.loads(lines[0][len('RESULT '):])
    gb = res['peak_rss_mb'] / 1024
    line = dict(name='predict_30000x30000_polygons_peak_rss', ratio=round(gb / 2.5, 3),
                baseline=2.5, ours=round(gb, 3), unit='GB peak RSS / the 2.5 GB goal',
                seconds=round(res['seconds'], 1), features=res['features'],
                outputs='labels COG + GeoPackage', side=SCALE_SIDE)
    print(json.dumps(line), flush=True)
    from results import write_results
    write_results('predict_scale_memory', line)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--scale', action='store_true', help='also the 30000x30000 memory run')
    p.add_argument('--reps', type=int, default=1,
                   help='best of N per timing, the two sides in turn (default 1)')
    p.add_argument('--parts', nargs='*', default=list(PARTS), choices=PARTS,
                   help='which parts to run (default: all but the 30000x30000 one; none: '
                        'only --scale)')
    p.add_argument('--data-root', default=str(ROOT / 'data/bluemarble'))
    p.add_argument('--workdir', help='where the 30000x30000 image goes (default: a temp dir)')
    p.add_argument('--scale-worker', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--image', help=argparse.SUPPRESS)
    p.add_argument('--out', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.scale_worker:
        print('RESULT ' + json.dumps(scale_worker(args.image, args.out)))
        return
    from altair.datasets.bluemarble_build import ensure_bluemarble
    ensure_bluemarble(args.data_root)
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        only = set(args.parts)
        if only - {'processes'}:
            parts(Path(args.data_root), Path(tmp), args.reps, only)
        if 'processes' in only:
            processes(Path(args.data_root), Path(tmp), 2, args.reps)
        if 'processes' in only and torch.cuda.device_count() > 1:
            processes(Path(args.data_root), Path(tmp), torch.cuda.device_count(), args.reps,
                      flag='--gpus')
    if args.scale:
        scale(args.workdir)


if __name__ == '__main__':
    main()
