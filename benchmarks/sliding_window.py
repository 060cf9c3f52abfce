#!/usr/bin/env python
"""Sliding-window inference: Altair's engine vs mmseg's slide_inference, and a huge GeoTIFF.

Part 1 (same model, the same 5400x2700 Blue Marble image, window 512, stride 384), each
measurement in its own process so peak RSS is its own. The gain over mmseg is decomposed
row by row, each row changing one thing:
  - ``mmseg``: ``EncoderDecoder.slide_inference`` as shipped (one contiguous window at a
    time, fp32, the whole image and logits in memory);
  - ``altair_b1``: Altair's engine with batch 1, contiguous, fp32: streaming and gaussian
    stitching only;
  - ``altair_b4``: the same, batches of 4 windows;
  - ``altair_fp32``: the same, channels-last (the engine's CPU default);
  - ``mmseg_bf16`` / ``altair_bf16``: both under bf16 autocast, where the CPU (or GPU) has
    native bf16. Where it is emulated (an AMD EPYC Zen 3 without AVX512: over a minute per
    512x512 window) they are skipped, or with ``--emulated-bf16`` run on the image's
    top-left corner of 3 windows only, named in the JSON;
  - ``altair_auto``: ``precision='auto'`` (bf16 where native, else the fp32 row), with the
    share of labels equal to ``altair_fp32``'s.
and ``pure`` (the model's forward over the same windows, batches of 4, channels-last,
nothing stitched) against ``altair_fp32`` (alternated, medians) bounds the stitching cost.
Part 2 (``--scale``): a synthetic 30000x30000 3-band tiled GeoTIFF made here (deleted after)
and a small 10-class conv net: Altair's peak RSS beside what mmseg's and MONAI's
whole-image stitching would allocate for the same image (computed, not run).

Prints one JSON line per comparison.
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
from results import write_results  # noqa: E402

WINDOW, STRIDE, BATCH = 512, 384, 4


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model(checkpoint: str | None):
    import torch
    from mmengine.registry import DefaultScope

    from altair.api.predict import load_model
    from altair.config import load_config
    from altair.registry import MODELS
    if checkpoint:
        return load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config(ROOT / 'configs/pspnet.py').model)
    from mmengine.model import revert_sync_batchnorm
    return revert_sync_batchnorm(model).eval()


def worker(method: str, image: str, checkpoint: str | None, out: str) -> dict:
    import numpy as np
    import torch

    from altair.prediction.model import input_transform
    from altair.inference.grid import window_grid
    from altair.inference.postprocess import labels_from_logits
    from altair.inference.sliding import pad_to, sliding_window_inference
    from altair.prediction.sinks import FanOut
    from altair.prediction.writers import PredictionWriter
    from altair.models.segmentor import window_predictor
    from altair.raster.sources import open_image, raster_env

    model = _model(checkpoint)
    predictor = window_predictor(model)
    env = raster_env()
    env.__enter__()
    src = open_image(image)
    bands, height, width = src.shape
    prep = input_transform(model, bands)
    t0 = time.perf_counter()
    with torch.no_grad():
        if method == 'pure':
            grid = window_grid(height, width, (WINDOW, WINDOW), (STRIDE, STRIDE))
            for i in range(0, len(grid), BATCH):
                batch = torch.stack([pad_to(src.read(y, min(y + WINDOW, height), x,
                                                     min(x + WINDOW, width)), (WINDOW, WINDOW))
                                     for y, x in grid[i:i + BATCH]])
                predictor(prep(batch).contiguous(memory_format=torch.channels_last))
        elif method.startswith('mmseg'):
            from contextlib import nullcontext

            from mmengine.config import ConfigDict
            from mmseg.models.segmentors import EncoderDecoder
            model.test_cfg = ConfigDict(mode='slide', crop_size=(WINDOW, WINDOW),
                                        stride=(STRIDE, STRIDE))
            img = prep(src.read(0, height, 0, width)[None])
            cast = (torch.autocast('cpu', dtype=torch.bfloat16) if method == 'mmseg_bf16'
                    else nullcontext())
            with cast:
                logits = EncoderDecoder.slide_inference(
                    model, img, [dict(img_shape=(height, width), ori_shape=(height, width),
                                      pad_shape=(height, width))])
            seconds = time.perf_counter() - t0  # labels for the agreement check: not timed
            np.save(out, labels_from_logits(logits[0].float()).to(torch.uint8).numpy())
            return dict(method=method, seconds=seconds, peak_rss_mb=_rss_mb())
        else:
            batch, channels_last, precision = ENGINE_ROWS[method]
            with PredictionWriter(out, height=height, width=width,
                                  num_classes=model.out_channels, transform=src.transform,
                                  crs=src.crs) as writer:
                sliding_window_inference(src, predictor, window=WINDOW, stride=STRIDE,
                                         num_classes=model.out_channels, batch_size=batch,
                                         precision=precision, channels_last=channels_last,
                                         preprocess=prep,
                                         sink=FanOut([writer], model.out_channels))
                writer.close()
    return dict(method=method, seconds=time.perf_counter() - t0, peak_rss_mb=_rss_mb())


# the engine's rows of the decomposition: (batch, channels-last, precision)
ENGINE_ROWS = dict(altair_b1=(1, False, 'fp32'), altair_b4=(BATCH, False, 'fp32'),
                   altair_fp32=(BATCH, True, 'fp32'), altair_bf16=(BATCH, True, 'bf16'),
                   altair_auto=(BATCH, True, 'auto'))


def _labels(path: str):
    import numpy as np
    if path.endswith('.npy'):
        return np.load(path)
    import rasterio
    with rasterio.open(path) as src:
        return src.read(1)


def _run(method: str, image: str, checkpoint: str | None, out: str) -> dict:
    cmd = [sys.executable, __file__, '--worker', method, '--image', image, '--out', out]
    if checkpoint:
        cmd += ['--checkpoint', checkpoint]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
    if proc.returncode != 0 or not lines:
        sys.exit(f'{method} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}')
    return json.loads(lines[0][len('RESULT '):])


def _corner(image: str, out: str) -> str:
    """The image's top-left WINDOW x (WINDOW + 2 STRIDE) pixels (3 windows) as a GeoTIFF."""
    import rasterio
    from rasterio.windows import Window
    with rasterio.open(image) as src:
        win = Window(0, 0, min(src.width, WINDOW + 2 * STRIDE), min(src.height, WINDOW))
        profile = dict(src.profile, height=win.height, transform=src.window_transform(win))
        data = src.read(window=win)
    with rasterio.open(out, 'w', **profile) as dst:
        dst.write(data)
    return out


def _size(image: str) -> tuple[int, int]:
    import rasterio
    with rasterio.open(image) as src:
        return src.height, src.width


def part1(checkpoint: str | None, data_root: str, reps: int,
          emulated_bf16: bool = False) -> None:
    import statistics

    from altair.datasets.bluemarble_build import ensure_bluemarble
    from altair.inference.grid import window_grid
    from altair.inference.precision import cpu_has_native_bf16
    image = str(ensure_bluemarble(data_root) / 'bluemarble_rgb.tif')
    native = cpu_has_native_bf16()
    with tempfile.TemporaryDirectory() as tmp:
        def run(method, img=image, tag=''):
            out = os.path.join(tmp, method + tag + ('.npy' if method.startswith('mmseg')
                                                    else '.tif'))
            return dict(_run(method, img, checkpoint, out), out=out)
        runs: dict[str, list[dict]] = {'pure': [], 'altair_fp32': []}
        # the tight comparison (goal 1.03) alternates its two sides, then takes medians
        for rep in range(reps):
            for method in (('pure', 'altair_fp32') if rep % 2 == 0 else ('altair_fp32', 'pure')):
                runs[method].append(run(method))
        res = {m: dict(seconds=statistics.median(r['seconds'] for r in rs),
                       peak_rss_mb=max(r['peak_rss_mb'] for r in rs), out=rs[-1]['out'])
               for m, rs in runs.items()}
        for method in ('mmseg', 'altair_b1', 'altair_b4'):
            res[method] = run(method)
        # bf16 rows: the whole image where bf16 is native; emulated bf16 is tens of times
        # slower than fp32, so there only on request and on the image's corner
        bf16_image = image if native else (
            _corner(image, os.path.join(tmp, 'corner.tif')) if emulated_bf16 else None)
        if bf16_image is not None:
            for method in ('mmseg_bf16', 'altair_bf16'):
                res[method] = run(method, bf16_image)
        res['altair_auto'] = run('altair_auto') if native else dict(res['altair_fp32'])
        fp32 = _labels(res['altair_fp32']['out'])
        agree_auto = float((_labels(res['altair_auto']['out']) == fp32).mean())
        agree_mmseg = float((_labels(res['mmseg']['out']) == fp32).mean())
        if bf16_image is not None:
            # against fp32 labels of the same pixels (the corner's own fp32 run where cut)
            fp32_cut = fp32 if native else _labels(run('altair_fp32', bf16_image,
                                                       '_corner')['out'])
            agree_bf16 = float((_labels(res['altair_bf16']['out']) == fp32_cut).mean())
    height, width = _size(image)
    model = 'trained ' + checkpoint if checkpoint else 'random-init configs/pspnet.py'
    common = dict(image=f'bluemarble_rgb.tif {width}x{height}', window=WINDOW, stride=STRIDE,
                  windows=len(window_grid(height, width, (WINDOW, WINDOW), (STRIDE, STRIDE))),
                  model=model)
    pure = _compare('sliding_window_fp32_vs_pure_forward', res['altair_fp32'], res['pure'],
             speedup=False, unit='s (lower is better; goal ratio <= 1.03)', reps=reps,
             batch=BATCH, runs={m: [round(r['seconds'], 2) for r in rs]
                                for m, rs in runs.items()}, **common)
    # the decomposition: each row's speed-up over mmseg as shipped and over the row before
    rows = [('mmseg', 'mmseg slide_inference as shipped (batch 1, contiguous, fp32)'),
            ('altair_b1', 'Altair, batch 1, contiguous, fp32: streaming + gaussian stitching'),
            ('altair_b4', f'Altair, batch {BATCH}, contiguous, fp32'),
            ('altair_fp32', f'Altair, batch {BATCH}, channels-last, fp32')]
    table = []
    for i, (method, what) in enumerate(rows):
        table.append(dict(row=method, what=what, seconds=round(res[method]['seconds'], 2),
                          vs_mmseg=round(res['mmseg']['seconds'] / res[method]['seconds'], 3),
                          vs_previous_row=None if i == 0 else round(
                              res[rows[i - 1][0]]['seconds'] / res[method]['seconds'], 3),
                          peak_rss_mb=round(res[method]['peak_rss_mb'], 1)))
    if bf16_image is None:
        table.append(dict(row='altair_bf16 vs mmseg_bf16', what='not measured: this CPU has '
                          'no native bf16 (emulated: over a minute per window; '
                          '--emulated-bf16 runs it on 3 windows)'))
    else:
        bf16_h, bf16_w = _size(bf16_image)
        table.append(dict(row='altair_bf16 vs mmseg_bf16', what=f'both under bf16 autocast '
                          f'({"native" if native else "emulated"}) on {bf16_w}x{bf16_h}',
                          seconds=round(res['altair_bf16']['seconds'], 2),
                          baseline_seconds=round(res['mmseg_bf16']['seconds'], 2),
                          vs_mmseg=round(res['mmseg_bf16']['seconds'] /
                                         res['altair_bf16']['seconds'], 3),
                          label_agreement_with_fp32=round(agree_bf16, 5)))
    decomposed = dict(name='sliding_window_gain_over_mmseg_decomposed',
                      ratio=table[len(rows) - 1]['vs_mmseg'],
                      baseline=table[0]['seconds'], ours=table[len(rows) - 1]['seconds'],
                      unit='speed-up of the engine default (channels-last, batched, fp32) '
                           'over mmseg as shipped; rows: each change on its own',
                      rows=table, label_agreement_with_mmseg=round(agree_mmseg, 5),
                      note='mmseg averages uniformly, Altair blends with gaussian weights',
                      **common)
    print(json.dumps(decomposed))
    auto = _compare('sliding_window_auto_precision_vs_mmseg', res['altair_auto'], res['mmseg'],
                    speedup=True, unit='speed-up (goal >= 2)', batch=BATCH,
                    auto_means='bf16' if native else 'fp32 (no native bf16: the altair_fp32 run)',
                    label_agreement_with_fp32=round(agree_auto, 5), **common)
    write_results('sliding_window', dict(pure_forward=pure, decomposed=decomposed, auto=auto))


def _compare(name: str, ours: dict, base: dict, *, speedup: bool, unit: str, **extra) -> dict:
    """Print one JSON line, and return it; ``ratio`` is base/ours time for a speed-up, else
    ours/base."""
    ratio = base['seconds'] / ours['seconds'] if speedup else ours['seconds'] / base['seconds']
    line = dict(name=name, ratio=round(ratio, 4), baseline=round(base['seconds'], 2),
                ours=round(ours['seconds'], 2), unit=unit,
                peak_rss_mb=round(ours['peak_rss_mb'], 1),
                baseline_peak_rss_mb=round(base['peak_rss_mb'], 1), **extra)
    print(json.dumps(line))
    return line


# ---------------------------------------------------------------- part 2: a huge GeoTIFF
SCALE_SIDE, SCALE_CLASSES = 30000, 10


def _make_huge_geotiff(path: str, side: int) -> None:
    """A smooth synthetic 3-band uint8 image, tiled + deflate (compresses to a few MB)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window
    block = 1024
    with rasterio.open(path, 'w', driver='GTiff', width=side, height=side, count=3,
                       dtype='uint8', crs='EPSG:3857', transform=from_origin(0, 0, 10, 10),
                       tiled=True, blockxsize=256, blockysize=256, compress='deflate',
                       BIGTIFF='YES') as dst:
        xs = np.arange(side, dtype=np.float32)
        for y0 in range(0, side, block):
            ys = np.arange(y0, min(y0 + block, side), dtype=np.float32)[:, None]
            band = np.stack([(127 + 120 * np.sin(ys / 900 + xs / 700)),
                             (127 + 120 * np.cos(ys / 1300 - xs / 500)),
                             np.broadcast_to((ys + xs) % 256, (len(ys), side))]).astype(np.uint8)
            dst.write(band, window=Window(0, y0, side, band.shape[1]))


def scale_net():
    """The 2-layer conv net (seed 0) the 30000x30000 runs predict with."""
    import torch
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(16, SCALE_CLASSES, 3, padding=1)).eval()


def scale_worker(image: str, out: str) -> dict:
    from altair.inference.sliding import sliding_window_inference
    from altair.prediction.sinks import FanOut
    from altair.prediction.writers import PredictionWriter
    from altair.raster.sources import open_image, raster_env
    net = scale_net()
    t0 = time.perf_counter()
    with raster_env(), open_image(image) as src:
        _, h, w = src.shape
        with PredictionWriter(out, height=h, width=w, num_classes=SCALE_CLASSES,
                              transform=src.transform, crs=src.crs) as writer:
            sliding_window_inference(src, net, window=WINDOW, stride=STRIDE,
                                     num_classes=SCALE_CLASSES, batch_size=8,
                                     preprocess=lambda x: x / 255.0,
                                     sink=FanOut([writer], SCALE_CLASSES))
            writer.close()
    return dict(seconds=time.perf_counter() - t0, peak_rss_mb=_rss_mb())


def part2(workdir: str | None) -> None:
    side = SCALE_SIDE
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        image, out = os.path.join(tmp, 'huge.tif'), os.path.join(tmp, 'labels.tif')
        t0 = time.perf_counter()
        _make_huge_geotiff(image, side)
        made_s = time.perf_counter() - t0
        cmd = [sys.executable, __file__, '--scale-worker', '--image', image, '--out', out]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
        if proc.returncode != 0 or not lines:
            sys.exit(f'scale run failed:\n{proc.stderr[-3000:]}')
        res = json.loads(lines[0][len('RESULT '):])
    px = side * side
    gb = 1024 ** 3
    # mmseg slide_inference: the float32 input tensor, preds (K, H, W) and count_mat (1, H, W)
    mmseg_gb = (3 * px + SCALE_CLASSES * px + px) * 4 / gb
    # MONAI sliding_window_inference: float32 input, output (K, H, W) and a count map (H, W)
    # accumulated at full size (plus the importance map of one window, negligible)
    monai_gb = (3 * px + SCALE_CLASSES * px + px) * 4 / gb
    line = dict(
        name='sliding_window_30000x30000_peak_memory',
        ratio=round(res['peak_rss_mb'] / 1024 / mmseg_gb, 4),
        baseline=round(mmseg_gb, 1), ours=round(res['peak_rss_mb'] / 1024, 3),
        unit='GB peak (goal: ours <= 2)', peak_rss_mb=round(res['peak_rss_mb'], 1),
        mmseg_needs_gb_computed=round(mmseg_gb, 1), monai_needs_gb_computed=round(monai_gb, 1),
        seconds=round(res['seconds'], 1), image_made_seconds=round(made_s, 1),
        windows=(len(range(0, side - WINDOW, STRIDE)) + 1) ** 2, classes=SCALE_CLASSES,
        side=side, model='2-layer conv net, 16 channels')
    print(json.dumps(line))
    write_results('sliding_window_scale', line)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--checkpoint', default=None,
                   help='checkpoint of configs/pspnet.py (default: work_dirs/demo-pspnet/'
                        'iter_600.pth if present, else random init)')
    p.add_argument('--data-root', default='data/bluemarble')
    p.add_argument('--scale', action='store_true', help='also run the 30000x30000 GeoTIFF')
    p.add_argument('--skip-part1', action='store_true')
    p.add_argument('--reps', type=int, default=3,
                   help='alternating runs of pure forward and Altair fp32 (medians)')
    p.add_argument('--tmpdir', default=None, help='where the huge GeoTIFF is written')
    p.add_argument('--emulated-bf16', action='store_true',
                   help='run the bf16 rows without native bf16 too (3 windows; minutes)')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    p.add_argument('--scale-worker', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--image', help=argparse.SUPPRESS)
    p.add_argument('--out', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print('RESULT ' + json.dumps(worker(args.worker, args.image, args.checkpoint, args.out)))
        return
    if args.scale_worker:
        print('RESULT ' + json.dumps(scale_worker(args.image, args.out)))
        return
    checkpoint = args.checkpoint
    if checkpoint is None:
        default = ROOT / 'work_dirs/demo-pspnet/iter_600.pth'
        checkpoint = str(default) if default.is_file() else None
    if not args.skip_part1:
        part1(checkpoint, args.data_root, args.reps, args.emulated_bf16)
    if args.scale:
        part2(args.tmpdir)


if __name__ == '__main__':
    main()
