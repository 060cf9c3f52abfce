#!/usr/bin/env python
"""Where the CPU time of the default ``altair init`` model (UNet s4, 32 base channels, Dice
+ CE, deep supervision) goes, one change at a time against fp32 on the same batch.

Each variant trains ``--steps`` timed steps (after ``--warmup``) of one process on random
inputs (the model's cost does not depend on the values), one after another in the same run:

- ``fp32``: the baseline, contiguous tensors, ``--crop`` x ``--crop``, batch ``--batch``;
- ``auto``: the precision 'auto' picks here: bf16 autocast on a CPU with native bf16
  (AVX512-BF16 / AMX), else fp32 (emulated bf16 is slower than fp32), so on such a CPU this
  row repeats the baseline and shows the timing noise;
- ``auto_channels_last``: and the model and inputs in channels-last memory format;
- ``auto_crop_half``: a crop of half the side, 4x the batch (the same pixels per step);
- ``auto_c16``: 16 base channels instead of 32 (less width at full resolution).

Prints one JSON line per variant: ``ratio`` = its training pixels per second over fp32's,
and writes ``benchmarks/results/recipe_speed.json`` (``auto_means``: what 'auto' was).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
from results import write_results  # noqa: E402

VARIANTS = {
    'fp32': dict(),
    'auto': dict(auto=True),
    'auto_channels_last': dict(auto=True, channels_last=True),
    'auto_crop_half': dict(auto=True, crop_scale=0.5),
    'auto_c16': dict(auto=True, base_channels=16),
}


def build(base_channels: int, bands: int):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from altair.datasets.plan import loss_choice
    from altair.registry import MODELS
    init_default_scope('altair')
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/models/unet_s4-c32.py'))
    cfg.model.backbone.update(base_channels=base_channels, in_channels=bands)
    cfg.model.decode_head.update(in_channels=base_channels, channels=base_channels,
                                 loss_decode=loss_choice([0.8, 0.2]).value)
    cfg.model.auxiliary_head.update(in_channels=2 * base_channels, channels=base_channels)
    cfg.model.data_preprocessor.update(mean=[0.0] * bands, std=[1.0] * bands,
                                       bgr_to_rgb=False)
    for bn in ('backbone', 'decode_head', 'auxiliary_head'):
        cfg.model[bn].norm_cfg = dict(type='BN', requires_grad=True)  # one process
    return MODELS.build(cfg.model)


def time_variant(*, crop: int, batch: int, bands: int, steps: int, warmup: int,
                 auto: bool = False, channels_last: bool = False, crop_scale: float = 1.0,
                 base_channels: int = 32) -> dict:
    import torch
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData

    from altair.inference.precision import cpu_has_native_bf16
    bf16 = auto and cpu_has_native_bf16()
    torch.manual_seed(0)
    side = int(crop * crop_scale)
    n = int(round(batch / crop_scale ** 2))
    model = build(base_channels, bands).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(n, bands, side, side)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    samples = []
    for _ in range(n):
        s = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 2, (1, side, side))))
        s.set_metainfo(dict(img_shape=(side, side), pad_shape=(side, side)))
        samples.append(s)
    times = []
    for _ in range(warmup + steps):
        t0 = time.perf_counter()
        ctx = (torch.autocast('cpu', dtype=torch.bfloat16) if bf16 else
               contextlib.nullcontext())
        with ctx:
            losses = model(x, samples, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        optim.step()
        times.append(time.perf_counter() - t0)
    step = statistics.median(times[warmup:])
    return dict(crop=side, batch=n, seconds_per_step=round(step, 4),
                pixels_per_second=round(n * side * side / step))


RESULT = ROOT / 'benchmarks' / 'results' / 'recipe_speed.json'


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--crop', type=int, default=224)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--bands', type=int, default=3)
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    args = p.parse_args()
    rows = {}
    for name in ['fp32'] + [v for v in args.variants if v != 'fp32']:
        rows[name] = time_variant(crop=args.crop, batch=args.batch, bands=args.bands,
                                  steps=args.steps, warmup=args.warmup, **VARIANTS[name])
        base = rows['fp32']['pixels_per_second']
        line = dict(name=f'recipe_speed_{name}',
                    ratio=round(rows[name]['pixels_per_second'] / base, 3),
                    baseline=base, ours=rows[name]['pixels_per_second'],
                    unit='training pixels per second (fp32 = baseline)', **rows[name])
        print(json.dumps(line), flush=True)
        rows[name] = line
    from altair.inference.precision import cpu_has_native_bf16
    write_results('recipe_speed', dict(rows=list(rows.values()), crop=args.crop,
                                       batch=args.batch, bands=args.bands, steps=args.steps,
                                       auto_means='bf16' if cpu_has_native_bf16() else 'fp32'))


if __name__ == '__main__':
    main()
