#!/usr/bin/env python
"""D4 test-time augmentation cost: batched vs view by view, relative to one forward pass.

Model: configs/pspnet.py (the demo checkpoint if present, else random init), one 3x512x512
input on the CPU, fp32. Each mode runs in its own process (own peak RSS), ``--reps`` timed
repetitions after one warm-up, median reported:
  - ``single_cl``: one forward on a channels-last input: the baseline, in the memory format
    the batched views run in;
  - ``single``: one plain forward (contiguous input, as a user calls a model);
  - ``d4_batched``: the 8 dihedral views through ``tta_predictor`` with its CPU defaults
    (channels-last, views in pairs: 4 calls), as ``AltairTTAModel`` runs them on the CPU;
  - ``d4_batch8``: the same with all 8 views in one call (the default on GPUs);
  - ``d4_probed``: the same with the views per call the batch probe picks on this machine
    (``altair.inference.autotune``, as ``alt.predict`` and ``AltairTTAModel`` use it; the
    probe itself runs before the timing, or comes from the cache);
  - ``d4_one_by_one``: the same views with max_batch=1, contiguous (what ttach does).
Prints one JSON line: ratio = batched D4 time / one channels-last forward (goal <= 8.5), and
the speed-up of batched over one-by-one (goal > 1).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = 512


def worker(mode: str, checkpoint: str | None, reps: int) -> dict:
    import torch

    from altair.inference.tta import tta_predictor
    from altair.models.segmentor import window_predictor
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from sliding_window import _model  # same model loading as the sliding-window benchmark

    model = _model(checkpoint)
    predictor = window_predictor(model)
    probed = None
    if mode == 'd4_probed':
        from altair.inference.autotune import tuned_batch
        probed = tuned_batch(predictor, model, shape=(3, SIZE, SIZE), device='cpu',
                             channels_last=True)
    if mode.startswith('d4'):
        max_batch = {'d4_batched': None, 'd4_batch8': 8, 'd4_one_by_one': 1,
                     'd4_probed': probed}[mode]
        predictor = tta_predictor(predictor, transforms=['d4'], merge='soft_vote',
                                  max_batch=max_batch, channels_last=mode != 'd4_one_by_one')
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    if mode == 'single_cl':
        x = x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.no_grad():
        for i in range(reps + 1):
            t0 = time.perf_counter()
            predictor(x)
            if i:  # the first call warms up
                times.append(time.perf_counter() - t0)
    return dict(mode=mode, seconds=statistics.median(times), runs=times, max_batch=probed,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    from altair.inference.tta import default_max_batch
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--checkpoint', default=None)
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args()
    checkpoint = args.checkpoint
    if checkpoint is None:
        default = ROOT / 'work_dirs/demo-pspnet/iter_600.pth'
        checkpoint = str(default) if default.is_file() else None
    if args.worker:
        print('RESULT ' + json.dumps(worker(args.worker, checkpoint, args.reps)))
        return
    res = {}
    for mode in ('single', 'single_cl', 'd4_batched', 'd4_batch8', 'd4_probed', 'd4_one_by_one'):
        cmd = [sys.executable, __file__, '--worker', mode, '--reps', str(args.reps)]
        if checkpoint:
            cmd += ['--checkpoint', checkpoint]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
        if proc.returncode != 0 or not line:
            sys.exit(f'{mode} failed:\n{proc.stderr[-3000:]}')
        res[mode] = json.loads(line[0][len('RESULT '):])
    single, batched, serial = (res[m] for m in ('single_cl', 'd4_batched', 'd4_one_by_one'))
    line = dict(
        name='tta_d4_batched_vs_single_forward',
        ratio=round(batched['seconds'] / single['seconds'], 3),
        baseline=round(single['seconds'], 3), ours=round(batched['seconds'], 3),
        unit='x one channels-last forward (goal <= 8.5)',
        ratio_vs_contiguous_forward=round(batched['seconds'] / res['single']['seconds'], 3),
        one_by_one_seconds=round(serial['seconds'], 3),
        views_per_call=f"{default_max_batch('cpu')} (the CPU default)",
        speedup_vs_one_by_one=round(serial['seconds'] / batched['seconds'], 3),
        batch8_ratio=round(res['d4_batch8']['seconds'] / single['seconds'], 3),
        batch8_peak_rss_mb=round(res['d4_batch8']['peak_rss_mb'], 1),
        probed_ratio=round(res['d4_probed']['seconds'] / single['seconds'], 3),
        probed_views_per_call=res['d4_probed']['max_batch'],
        peak_rss_mb=round(batched['peak_rss_mb'], 1),
        baseline_peak_rss_mb=round(single['peak_rss_mb'], 1),
        one_by_one_peak_rss_mb=round(serial['peak_rss_mb'], 1),
        input=f'1x3x{SIZE}x{SIZE}', views=8, reps=args.reps,
        single_seconds=round(single['seconds'], 3),
        model='trained ' + checkpoint if checkpoint else 'random-init configs/pspnet.py')
    print(json.dumps(line))
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from results import write_results
    write_results('tta', line)


if __name__ == '__main__':
    main()
