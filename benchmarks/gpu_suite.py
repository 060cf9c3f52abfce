#!/usr/bin/env python
"""The GPU suite: one script, one GPU, under 8 minutes; one JSON line per measurement.

1. ``train``: ``configs/pspnet.py`` on Blue Marble (batch 8, 40 iterations, the first 10
   dropped) through Altair's tools and through plain mmseg (``benchmarks/train_throughput.py``'s
   two sides, a fresh process each), in fp32, bf16 and fp16 (mmengine's ``AmpOptimWrapper``
   on both sides): it/s ratio and each side's peak GPU memory.
2. ``sliding``: the whole 5400x2700 Blue Marble, window 512, stride 384, batches of 8,
   windows on the GPU and stitching on the CPU (``accumulate_device='cpu'``) against the
   model's pure forward over the same windows (nothing stitched): windows/s both ways.
3. ``tta``: D4 TTA with the GPU default (all 8 views in one call) against one forward of a
   1x3x512x512 input, channels-last on both sides, median of 10 after a warm-up, CUDA
   synchronised. Goal: at most 4x one forward (on a GPU batching must pay).

Random-init weights (speed does not depend on them); peak GPU memory is
``torch.cuda.max_memory_allocated`` of each measurement. Exits 2 without a CUDA GPU.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
PARTS = ('train', 'sliding', 'tta')
WINDOW, STRIDE, BATCH = 512, 384, 8


def _line(**fields) -> None:
    print(json.dumps(fields), flush=True)


def train(data_root: str, iters: int, warmup: int, batch: int) -> None:
    for amp in ('fp32', 'bf16', 'fp16'):
        res = {}
        for side in ('altair', 'mmseg'):
            cmd = [sys.executable, str(ROOT / 'benchmarks/train_throughput.py'), '--worker',
                   side, '--amp', amp, '--data-root', data_root, '--iters', str(iters),
                   '--warmup', str(warmup), '--batch', str(batch)]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
            if proc.returncode != 0 or not line:
                sys.exit(f'{side} {amp} training failed:\n{proc.stderr[-3000:]}')
            res[side] = json.loads(line[0][len('RESULT '):])
        ours, base = res['altair'], res['mmseg']
        _line(name=f'gpu_train_{amp}_vs_mmseg', ratio=round(ours['it_per_s'] / base['it_per_s'], 3),
              baseline=round(base['it_per_s'], 3), ours=round(ours['it_per_s'], 3), unit='it/s',
              peak_gpu_mb=round(ours['peak_gpu_mb'], 1),
              baseline_peak_gpu_mb=round(base['peak_gpu_mb'], 1), batch=batch, iters=iters,
              warmup=warmup, model='configs/pspnet.py', gpu=_gpu())


def _gpu() -> str:
    import torch
    return torch.cuda.get_device_name(0)


def _timed(fn) -> float:
    import torch
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def sliding(data_root: str) -> None:
    import torch
    from sliding_window import _model

    from altair.prediction.model import input_transform
    from altair.datasets.bluemarble_build import ensure_bluemarble
    from altair.inference.grid import window_grid
    from altair.inference.sliding import pad_to, sliding_window_inference
    from altair.models.segmentor import window_predictor
    from altair.raster.sources import open_image, raster_env
    model = _model(None).cuda()
    predictor = window_predictor(model)
    image = ensure_bluemarble(data_root) / 'bluemarble_rgb.tif'
    with raster_env(), open_image(image) as src, torch.no_grad():
        bands, height, width = src.shape
        prep = input_transform(model, bands)
        grid = window_grid(height, width, (WINDOW, WINDOW), (STRIDE, STRIDE))
        crops = [pad_to(src.read(y, min(y + WINDOW, height), x, min(x + WINDOW, width)),
                        (WINDOW, WINDOW)) for y, x in grid]

        def pure():
            for i in range(0, len(crops), BATCH):
                batch = prep(torch.stack(crops[i:i + BATCH]).cuda())
                predictor(batch.contiguous(memory_format=torch.channels_last))

        def engine():
            sliding_window_inference(src, predictor, window=WINDOW, stride=STRIDE,
                                     num_classes=model.out_channels, batch_size=BATCH,
                                     device='cuda', accumulate_device='cpu',
                                     channels_last=True, preprocess=prep,
                                     sink=lambda row0, band, valid: None)
        pure()  # warm-up (cuDNN autotuning, allocator)
        torch.cuda.reset_peak_memory_stats()
        times = {'pure': [], 'engine': []}
        for _ in range(3):
            times['pure'].append(_timed(pure))
            times['engine'].append(_timed(engine))
        peak = torch.cuda.max_memory_allocated() / 2 ** 20
    t_pure, t_engine = (statistics.median(times[k]) for k in ('pure', 'engine'))
    _line(name='gpu_sliding_window_vs_pure_forward', ratio=round(t_engine / t_pure, 3),
          baseline=round(len(grid) / t_pure, 2), ours=round(len(grid) / t_engine, 2),
          unit='windows/s (ratio: engine time / pure forward time; the pure side has its '
               'windows read beforehand)', windows=len(grid), batch=BATCH,
          image=f'{image.name} {width}x{height}', accumulate_device='cpu',
          peak_gpu_mb=round(peak, 1), gpu=_gpu())


def tta() -> None:
    import torch
    from sliding_window import _model

    from altair.inference.tta import default_max_batch, tta_predictor
    from altair.models.segmentor import window_predictor
    model = _model(None).cuda()
    single = window_predictor(model)
    d4 = tta_predictor(single, transforms=['d4'], merge='soft_vote', channels_last=True)
    x = torch.randn(1, 3, 512, 512, device='cuda').contiguous(memory_format=torch.channels_last)
    res = {}
    with torch.no_grad():
        for name, fn in (('single', single), ('d4', d4)):
            fn(x)
            torch.cuda.reset_peak_memory_stats()
            res[name] = (statistics.median(_timed(lambda: fn(x)) for _ in range(10)),
                         torch.cuda.max_memory_allocated() / 2 ** 20)
    _line(name='gpu_tta_d4_batched_vs_single_forward',
          ratio=round(res['d4'][0] / res['single'][0], 3),
          baseline=round(res['single'][0], 4), ours=round(res['d4'][0], 4),
          unit='seconds (goal ratio <= 4)', views=8,
          views_per_call=default_max_batch('cuda'), peak_gpu_mb=round(res['d4'][1], 1),
          baseline_peak_gpu_mb=round(res['single'][1], 1), gpu=_gpu())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--parts', nargs='+', default=list(PARTS), choices=PARTS)
    p.add_argument('--data-root', default=str(ROOT / 'data/bluemarble'))
    p.add_argument('--iters', type=int, default=40)
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--batch', type=int, default=8, help='training images per iteration')
    args = p.parse_args()
    import torch
    if not torch.cuda.is_available():
        print('error: benchmarks/gpu_suite.py needs a CUDA GPU; none is visible',
              file=sys.stderr)
        sys.exit(2)
    from altair.datasets.bluemarble_build import ensure_bluemarble
    data_root = str(ensure_bluemarble(args.data_root))
    if 'train' in args.parts:
        train(data_root, args.iters, args.warmup, args.batch)
    if 'sliding' in args.parts:
        sliding(data_root)
    if 'tta' in args.parts:
        tta()


if __name__ == '__main__':
    main()
