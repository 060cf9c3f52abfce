#!/usr/bin/env python
"""Blue Marble trained straight from its two source rasters (``RasterSceneDataset``, no
tiling step) against the tiled demo, same model, schedule and iteration count.

Trains ``configs/pspnet/pspnet_r18-d16_1xb8-600it_bluemarble-scene-256x256.py`` (or takes a
finished run with ``--run``), then evaluates its last checkpoint on the tiled demo's 17
validation tiles (``data/bluemarble/img_dir/val``, read with ``LoadRaster``: RGB as trained)
and on its own validation windows (the same three 300-px longitude columns, ocean included).
The baseline is ``configs/pspnet.py`` (the tiled demo) trained here in the same run with the
same precision (``--precision``, default fp32: bf16 autocast only pays where the CPU has
AVX512-BF16/AMX). Prints one JSON line (ratio = scene / tiled val mIoU on the 17 tiles) and
writes it to ``benchmarks/results/bluemarble_scene.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / 'configs/pspnet/pspnet_r18-d16_1xb8-600it_bluemarble-scene-256x256.py'


def tiles_val(run, data_root: Path) -> dict:
    """Test ``run``'s last checkpoint on the demo's val tiles (LoadRaster keeps RGB order)."""
    import altair as alt
    dataset = dict(_delete_=True, type='BlueMarbleDataset', data_root=str(data_root),
                   data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                   pipeline=[dict(type='LoadRaster'), dict(type='PackSegInputs')])
    return alt.test(run, run.last_checkpoint,
                    cfg_options={'test_dataloader.dataset': dataset,
                                 'test_dataloader.num_workers': 0,
                                 'test_dataloader.persistent_workers': False})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--run', help='a finished run of the scene config (skip its training)')
    p.add_argument('--runs-root', help='run store of --run')
    p.add_argument('--tiled-run', help='a finished run of configs/pspnet.py (skip its training)')
    p.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32')
    p.add_argument('--iters', type=int, default=600, help='for both runs (default: 600, as '
                   'the demo; the LR schedule is stretched to it)')
    p.add_argument('--data-root', default=str(ROOT / 'data/bluemarble'))
    args = p.parse_args()
    import altair as alt
    from altair.datasets.bluemarble_build import ensure_bluemarble
    ensure_bluemarble(args.data_root)
    root = Path(args.runs_root or tempfile.mkdtemp(prefix='bm_scene_'))
    t0 = time.perf_counter()
    opts = {} if args.precision == 'bf16' else {'optim_wrapper': dict(
        _delete_=True, type='OptimWrapper', clip_grad=None,
        optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))}
    if args.iters != 600:
        opts.update({
            'train_cfg.max_iters': args.iters, 'train_cfg.val_interval': args.iters,
            'default_hooks.checkpoint.interval': args.iters,
            'param_scheduler': [
                dict(type='LinearLR', start_factor=0.1, begin=0, end=args.iters // 12,
                     by_epoch=False),
                dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=args.iters // 12,
                     end=args.iters, by_epoch=False)]})
    run = (alt.load_run(args.run, root) if args.run else
           alt.train(SCENE, seed=0, root=root, cfg_options=opts))
    minutes = (time.perf_counter() - t0) / 60 if not args.run else None
    own = run.metrics[-1]
    scene = tiles_val(run, Path(args.data_root))
    tiled_run = (alt.load_run(args.tiled_run, root) if args.tiled_run else
                 alt.train(ROOT / 'configs/pspnet.py', seed=0, root=root,
                           cfg_options=dict(opts, **{
                               f'{s}_dataloader.dataset.data_root': args.data_root
                               for s in ('train', 'val', 'test')})))
    tiled = tiled_run.metrics[-1]['mIoU']
    line = dict(
        name='bluemarble_scene_vs_tiled_val_mIoU', ratio=round(scene['mIoU'] / tiled, 3),
        baseline=tiled, ours=round(scene['mIoU'], 2),
        points=round(scene['mIoU'] - tiled, 2),
        unit=f'val mIoU on the 17 demo tiles, {args.iters} iterations, seed 0',
        own_val_windows_mIoU=own['mIoU'], train_minutes=minutes and round(minutes, 1),
        precision=args.precision, tiled_per_class={
            k: v for k, v in tiled_run.metrics[-1].items() if k.startswith('IoU.')},
        per_class={k: v for k, v in scene.items() if k.startswith('IoU.')},
        reused_runs=[r for r in (args.run, args.tiled_run) if r])
    print(json.dumps(line))
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from results import write_results
    write_results('bluemarble_scene', line)


if __name__ == '__main__':
    main()
