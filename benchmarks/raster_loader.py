#!/usr/bin/env python
"""RasterSceneDataset throughput against what one training step consumes.

The Landsat 8 scene with MODIS land cover as labels (another CRS and resolution: every window
reprojects its labels) is turned into a config by ``altair init``; then, in one run:

1. windows/s of its training dataset (random windows of the planned crop, valid-fraction
   rejection, LoadRaster + augmentation + PackSegInputs) in one process on one core: what one
   data worker gives;
2. windows/s the generated model trains at (the planned batch, fp32, all cores): batch /
   step time.

ratio = loader windows/s / training windows/s: above 1, one data worker keeps up.
Prints one JSON line and writes it to ``benchmarks/results/raster_loader.json``. ``--model``
picks the ``altair init`` model (default: pspnet).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))


def loader_rate(config: str, n: int) -> float:
    import cv2
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from altair.registry import DATASETS
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    init_default_scope('altair')
    cfg = Config.fromfile(config)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(0)
    for i in range(3):
        ds[i]  # warm-up: opens the files, GDAL caches the label blocks it reads
    t0 = time.perf_counter()
    for i in range(n):
        ds[i % len(ds)]
    return n / (time.perf_counter() - t0)


def train_rate(config: str, steps: int) -> tuple[float, int]:
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    from altair.registry import DATASETS, MODELS
    init_default_scope('altair')
    cfg = Config.fromfile(config)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    batch = cfg.train_dataloader.batch_size
    data = pseudo_collate([ds[i] for i in range(batch)])
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    times = []
    for _ in range(steps + 2):
        t0 = time.perf_counter()
        model.train_step(data, wrapper)
        times.append(time.perf_counter() - t0)
    return batch / statistics.median(times[2:]), batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--windows', type=int, default=200)
    p.add_argument('--steps', type=int, default=8)
    p.add_argument('--model', default='pspnet')
    p.add_argument('--worker', nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        kind, config = args.worker
        res = (dict(rate=loader_rate(config, args.windows)) if kind == 'loader' else
               dict(zip(('rate', 'batch'), train_rate(config, args.steps))))
        res['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print('RESULT ' + json.dumps(res))
        return
    import own_data
    with tempfile.TemporaryDirectory() as work:
        data = own_data.prepare_landsat(Path(work) / 'landsat')
        config = str(Path(work) / 'landsat_config.py')
        subprocess.run([sys.executable, '-m', 'altair', 'init', str(data), '--file', config,
                        '--model', args.model], check=True, capture_output=True, cwd=ROOT)

        def worker(kind: str, threads: int | None) -> dict:
            env = dict(os.environ)
            if threads:
                env['OMP_NUM_THREADS'] = str(threads)
            proc = subprocess.run([sys.executable, __file__, '--worker', kind, config,
                                   '--windows', str(args.windows), '--steps', str(args.steps)],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
            if proc.returncode != 0 or not line:
                sys.exit(f'{kind} failed:\n{proc.stderr[-3000:]}')
            return json.loads(line[0][len('RESULT '):])

        loader = worker('loader', 1)
        train = worker('train', None)
        from mmengine.config import Config
        crop = Config.fromfile(config).crop_size[0]  # the planned crop: what each window reads
    line = dict(
        name='raster_scene_loader_vs_training_step', ratio=round(loader['rate'] / train['rate'], 2),
        baseline=round(train['rate'], 4), ours=round(loader['rate'], 2),
        unit='windows/s (RasterSceneDataset, 1 process on 1 core / training consumption, '
             f"batch {train['batch']}, fp32, {os.cpu_count()} cores)",
        model=f'altair init --model {args.model} (3 bands, {crop}x{crop} windows)',
        peak_rss_mb=round(max(loader['peak_rss_mb'], train['peak_rss_mb']), 1),
        windows=args.windows, steps=args.steps, batch=train['batch'])
    print(json.dumps(line))
    from results import write_results
    write_results('raster_loader', line)


if __name__ == '__main__':
    main()
