#!/usr/bin/env python
"""Training throughput: Altair's tools vs plain mmseg on the same model, data and iterations.

Altair: ``configs/pspnet.py`` through ``altair.api.train`` (AltairRunner, scope ``altair``).
Baseline: the same config turned into a plain mmseg one (``default_scope='mmseg'``,
``mmengine.runner.Runner.from_cfg``, mmseg's ``BaseSegDataset`` over the same files).
Each run is its own process; runs alternate (A, B, B, A, ...) so drift hits both sides.
Iteration times come from mmengine's IterTimerHook with the first ``--warmup`` dropped. Both
sides train in fp32 (mmseg alone cannot autocast on the CPU).

Prints one JSON line: {"name", "ratio" (Altair it/s / mmseg it/s; >= 0.98 means no
overhead), "baseline", "ours" (it/s, median over runs), "peak_rss_mb" (Altair), ...}, and
writes it to ``benchmarks/results/train_throughput.json``.
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
            'default_hooks.checkpoint.interval': iters + 1,
            'default_hooks.logger.interval': 10 ** 6,
            'train_dataloader.batch_size': batch, 'randomness.seed': 0}
    opts.update({f'{s}_dataloader.dataset.data_root': data_root for s in ('train', 'val', 'test')})
    return opts


def _to_plain_mmseg(cfg) -> None:
    """Rewrite an Altair config into one that only uses mmseg/mmengine components."""
    from altair.datasets.bluemarble_classes import CLASSES, PALETTE
    cfg.default_scope = 'mmseg'
    cfg.pop('runner_type', None)
    cfg.model.type = 'EncoderDecoder'  # AltairEncoderDecoder only changes slide inference
    for split in ('train', 'val', 'test'):
        ds = cfg[f'{split}_dataloader'].dataset
        ds.type = 'BaseSegDataset'
        ds.img_suffix = ds.seg_map_suffix = '.png'
        ds.metainfo = dict(classes=CLASSES, palette=[list(p) for p in PALETTE])
    cfg.val_evaluator = cfg.test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])


def worker(side: str, data_root: str, iters: int, batch: int, warmup: int,
           amp: str = 'fp32') -> dict:
    """One training run; ``amp`` other than fp32 is for CUDA (``benchmarks/gpu_suite.py``):
    both sides then use mmengine's ``AmpOptimWrapper``, as a plain mmseg config would."""
    import torch
    from mmengine.logging import MessageHub

    from altair.config import load_config
    from altair.engine.amp import apply_amp
    cfg = load_config(ROOT / 'configs/pspnet.py', cfg_options=_options(data_root, iters, batch))
    # Both sides in fp32 on the CPU: plain mmseg has no CPU autocast wrapper to compare with.
    cfg.optim_wrapper = apply_amp(dict(type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer),
                                  None if amp == 'fp32' else amp)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as work:
        if side == 'altair':
            from altair.api.compile import compile_config
            from altair.api.train import build_runner
            runner = build_runner(compile_config(cfg, work_dir=work))
        else:
            from mmengine.runner import Runner
            _to_plain_mmseg(cfg)
            cfg.work_dir = work
            cfg.launcher = 'none'
            runner = Runner.from_cfg(cfg)
        runner.train()
        times = MessageHub.get_current_instance().get_scalar('train/time').data[0]
    steady = list(times[warmup:])
    return dict(side=side, amp=amp, it_per_s=len(steady) / sum(steady),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                peak_gpu_mb=torch.cuda.max_memory_allocated() / 2 ** 20 if cuda else None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=30)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--reps', type=int, default=4, help='runs per side, alternating')
    p.add_argument('--data-root', default='data/bluemarble')
    p.add_argument('--worker', choices=['altair', 'mmseg'], help=argparse.SUPPRESS)
    p.add_argument('--amp', default='fp32', choices=['fp32', 'bf16', 'fp16'],
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print('RESULT ' + json.dumps(worker(args.worker, args.data_root, args.iters, args.batch,
                                           args.warmup, args.amp)))
        return

    from altair.datasets.bluemarble_build import ensure_bluemarble
    data_root = str(ensure_bluemarble(args.data_root))
    runs: dict[str, list[dict]] = {'altair': [], 'mmseg': []}
    for rep in range(args.reps):
        # alternate which side goes first, so neither always gets the colder machine
        for side in (('altair', 'mmseg') if rep % 2 == 0 else ('mmseg', 'altair')):
            proc = subprocess.run(
                [sys.executable, __file__, '--worker', side, '--data-root', data_root,
                 '--iters', str(args.iters), '--batch', str(args.batch),
                 '--warmup', str(args.warmup)], cwd=ROOT, capture_output=True, text=True,
                env={**os.environ, 'PYTHONHASHSEED': '0'})
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
            if proc.returncode != 0 or not line:
                sys.exit(f'{side} run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}')
            runs[side].append(json.loads(line[0][len('RESULT '):]))
    ours = statistics.median(r['it_per_s'] for r in runs['altair'])
    base = statistics.median(r['it_per_s'] for r in runs['mmseg'])
    line = dict(
        name='train_throughput', ratio=round(ours / base, 4), baseline=round(base, 4),
        ours=round(ours, 4), unit='it/s', peak_rss_mb=round(max(
            r['peak_rss_mb'] for r in runs['altair']), 1),
        baseline_peak_rss_mb=round(max(r['peak_rss_mb'] for r in runs['mmseg']), 1),
        iters=args.iters, warmup=args.warmup, batch=args.batch, reps=args.reps,
        runs={side: [round(r['it_per_s'], 4) for r in rs] for side, rs in runs.items()},
        model='configs/pspnet.py')
    print(json.dumps(line))
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from results import write_results
    write_results('train_throughput', line)


if __name__ == '__main__':
    main()
