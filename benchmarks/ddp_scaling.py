#!/usr/bin/env python
"""DDP scaling: training images/s with 1 process and with N processes on the same config.

``configs/pspnet.py`` on Blue Marble, batch ``--batch`` per process, ``--iters`` iterations
(first ``--warmup`` dropped), no validation. Each side is a real ``altair train`` run in its
own process tree: 1 process through ``alt.train``, N through ``alt.train(distributed=N)``
(torch's elastic launcher; gloo on the CPU, NCCL on GPUs). On GPUs N defaults to the GPU
count and each process has its own GPU (ideal speed-up N); on the CPU N defaults to 2 and the
processes share the cores with the single process (ideal speed-up 1: DDP only wins if it uses
the cores better than intra-op threads do). Iteration times come from mmengine's JSON logs.

The two sides alternate (1, N, N, 1, 1, N, ... for ``--reps`` runs each) and each side
reports the median of its runs' images/s, so a slow spell of a shared machine falls on both.

Prints one JSON line: {"name", "ratio" (images/s with N / images/s with 1), "baseline",
"ours" (images/s), "efficiency" (ratio / ideal speed-up), "peak_rss_mb" (the largest
process of the N-process run), ...}, and writes it to ``benchmarks/results/ddp_scaling.json``
(``ddp_scaling_gpu.json`` on GPUs).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _options(data_root: str, iters: int, batch: int) -> dict:
    opts = {'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters + 1,
            'default_hooks.checkpoint.interval': iters + 1, 'default_hooks.logger.interval': 1,
            'train_dataloader.batch_size': batch, 'val_cfg': None, 'val_dataloader': None,
            'val_evaluator': None, 'default_hooks.checkpoint.save_best': None}
    opts.update({f'{s}_dataloader.dataset.data_root': data_root for s in ('train', 'test')})
    return opts


def worker(procs: int, data_root: str, iters: int, batch: int, warmup: int) -> dict:
    import altair as alt
    with tempfile.TemporaryDirectory() as home:
        run = alt.train(ROOT / 'configs/pspnet.py', distributed=procs, root=home,
                        cfg_options=_options(data_root, iters, batch))
        [log] = run.work_dir.glob('*/vis_data/*_*.json')
        times = [json.loads(ln)['time'] for ln in log.read_text().splitlines()
                 if '"time"' in ln and '"loss"' in ln][warmup:]
    seconds = statistics.median(times)
    # peak RSS of this process and of its (waited-for) children, i.e. the workers
    rss = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF,
                                                            resource.RUSAGE_CHILDREN))
    return dict(procs=procs, seconds_per_iter=seconds, images_per_s=procs * batch / seconds,
                iters_timed=len(times), peak_rss_mb=rss / 1024)


def main() -> None:
    import torch
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gpus = torch.cuda.device_count()
    p.add_argument('--procs', type=int, default=gpus if gpus > 1 else 2)
    p.add_argument('--iters', type=int, default=30)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--batch', type=int, default=4, help='images per process and iteration')
    p.add_argument('--reps', type=int, default=3, help='runs per side, alternated (medians)')
    p.add_argument('--data-root', default=str(ROOT / 'data/bluemarble'))
    p.add_argument('--worker', type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        res = worker(args.worker, args.data_root, args.iters, args.batch, args.warmup)
        print('RESULT ' + json.dumps(res))
        return
    from altair.datasets.bluemarble_build import ensure_bluemarble
    ensure_bluemarble(args.data_root)
    runs: dict[int, list[dict]] = {1: [], args.procs: []}
    for rep in range(args.reps):
        for procs in ((1, args.procs) if rep % 2 == 0 else (args.procs, 1)):
            cmd = [sys.executable, __file__, '--worker', str(procs), '--iters', str(args.iters),
                   '--warmup', str(args.warmup), '--batch', str(args.batch),
                   '--data-root', args.data_root]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  env={k: v for k, v in os.environ.items()
                                       if k != 'OMP_NUM_THREADS'})
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
            if proc.returncode != 0 or not line:
                sys.exit(f'{procs} process(es) failed:\n{proc.stderr[-3000:]}')
            runs[procs].append(json.loads(line[0][len('RESULT '):]))
    one, many = ({'images_per_s': statistics.median(r['images_per_s'] for r in runs[n]),
                  'peak_rss_mb': max(r['peak_rss_mb'] for r in runs[n])}
                 for n in (1, args.procs))
    ratio = many['images_per_s'] / one['images_per_s']
    ideal = args.procs if gpus >= args.procs else 1
    line = dict(
        name=f'ddp_scaling_{args.procs}_procs_vs_1', ratio=round(ratio, 3),
        baseline=round(one['images_per_s'], 2), ours=round(many['images_per_s'], 2),
        unit='images/s', efficiency=round(ratio / ideal, 3), ideal_speedup=ideal,
        device='cuda' if gpus else f'cpu ({os.cpu_count()} cores shared)',
        peak_rss_mb=round(many['peak_rss_mb'], 1),
        baseline_peak_rss_mb=round(one['peak_rss_mb'], 1),
        batch_per_process=args.batch, iters=args.iters, warmup=args.warmup, reps=args.reps,
        runs_images_per_s={str(n): [round(r['images_per_s'], 2) for r in rs]
                           for n, rs in runs.items()},
        model="configs/pspnet.py (its precision: 'auto')")
    print(json.dumps(line))
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from results import write_results
    write_results('ddp_scaling_gpu' if gpus else 'ddp_scaling', line)


if __name__ == '__main__':
    main()
