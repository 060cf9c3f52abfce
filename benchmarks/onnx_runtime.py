#!/usr/bin/env python
"""onnxruntime vs torch on the CPU: windows per second of the exported demo model.

The demo config (``configs/segformer.py``, SegFormer MiT-B0) with the demo's trained weights
when ``work_dirs/demo`` has them (``make demo``), else a 20-iteration training on the Blue
Marble tiles: exported with ``altair export --format onnx`` and run on the same real 256x256
Blue Marble windows (the training crop), batches of 4, alternating torch and onnxruntime
``--reps`` times (medians). torch runs as the prediction engine runs it on the CPU:
channels-last, once in fp32 and once at the engine's default precision (``auto``: bf16
autocast where the CPU computes bf16 natively, else fp32, which is then the same run);
onnxruntime runs the fp32 graph. Also reported: the parity of onnxruntime and torch fp32 on
those windows (max |Δlogit|, share of equal labels).

Prints one JSON line per comparison (``ratio`` = onnxruntime windows/s over torch's) and
writes ``benchmarks/results/onnx_runtime.json``.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WINDOW, BATCH = 256, 4


def _windows(data_root: Path, n: int):
    import numpy as np
    import rasterio
    with rasterio.open(data_root / 'bluemarble_rgb.tif') as src:
        rgb = src.read(window=((0, 1024), (0, 2048)))  # a real strip of the globe
    tiles = [rgb[:, y:y + WINDOW, x:x + WINDOW] for y in range(0, 1024, WINDOW)
             for x in range(0, 2048, WINDOW)]
    return np.stack(tiles[:n]).astype('float32')


def _run_source(work: Path):
    """(run or checkpoint, what it is) for the demo model."""
    import altair as alt
    demo = ROOT / 'work_dirs' / 'demo'
    summary = demo / 'summary.json'
    if summary.is_file():
        run = json.loads(summary.read_text())['run']
        try:
            return alt.load_run(run), f'demo run {run}'
        except Exception:
            pass
    from altair.datasets.bluemarble_build import ensure_bluemarble
    root = ensure_bluemarble(ROOT / 'data' / 'bluemarble')
    opts = {f'{s}_dataloader.dataset.data_root': str(root) for s in ('train', 'val', 'test')}
    opts.update({'train_cfg.max_iters': 20, 'train_cfg.val_interval': 20,
                 'default_hooks.checkpoint.interval': 20})
    run = alt.train(str(ROOT / 'configs/segformer.py'), cfg_options=opts, root=work / 'runs',
                    verbose=False)
    return run, 'configs/segformer.py trained 20 iterations (no demo run here)'


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--windows', type=int, default=16)
    args = p.parse_args()
    import torch

    from altair.api.export import export_model
    from altair.api.load import load_model
    from altair.prediction.model import input_transform
    from altair.datasets.bluemarble_build import ensure_bluemarble
    from altair.inference.precision import resolve_precision
    from altair.models.segmentor import window_predictor

    with tempfile.TemporaryDirectory(prefix='altair_onnx_bench_') as tmp:
        work = Path(tmp)
        source, what = _run_source(work)
        onnx_path = export_model(source, format='onnx', out=work / 'model.onnx')
        net = load_model(source, device='cpu').eval()
        ort = load_model(onnx_path)
        raw = torch.from_numpy(_windows(ensure_bluemarble(ROOT / 'data' / 'bluemarble'),
                                        args.windows))
        x = input_transform(net, 3)(raw)
        batches = list(x.split(BATCH))
        torch_predict = window_predictor(net)
        auto_dtype = resolve_precision('auto', 'cpu')

        def run_torch(dtype=None):
            with torch.no_grad(), torch.autocast('cpu', dtype=dtype or torch.float32,
                                                 enabled=dtype is not None):
                return [torch_predict(b.contiguous(memory_format=torch.channels_last)).float()
                        for b in batches]

        def run_torch_auto():
            return run_torch(auto_dtype)

        def run_ort():
            return [ort.encode_decode(b) for b in batches]
        ref, got = torch.cat(run_torch()), torch.cat(run_ort())  # also the warm-up
        sides = [('torch', run_torch), ('onnxruntime', run_ort)]
        if auto_dtype is not None:
            run_torch_auto()
            sides.append(('torch_auto', run_torch_auto))
        times = {name: [] for name, _ in sides}
        for _ in range(args.reps):
            for name, fn in sides:
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        if auto_dtype is None:  # auto is fp32 on this CPU: the fp32 run is its run
            times['torch_auto'] = times['torch']
        rate = {k: len(x) / statistics.median(v) for k, v in times.items()}
        delta = float((ref - got).abs().max())
        equal = float((ref.argmax(1) == got.argmax(1)).float().mean())
    common = dict(windows=len(x), reps=args.reps, threads=torch.get_num_threads(), model=what)
    lines = [dict(name='onnxruntime_vs_torch_fp32_windows_per_second',
                  ratio=round(rate['onnxruntime'] / rate['torch'], 3),
                  baseline=round(rate['torch'], 2), ours=round(rate['onnxruntime'], 2),
                  unit='windows/s (batch 4, 256x256; torch fp32 channels-last, onnxruntime fp32)',
                  max_abs_logit_diff=delta, labels_equal=round(equal, 6), **common),
             dict(name='onnxruntime_vs_torch_default_precision_windows_per_second',
                  ratio=round(rate['onnxruntime'] / rate['torch_auto'], 3),
                  baseline=round(rate['torch_auto'], 2), ours=round(rate['onnxruntime'], 2),
                  unit="windows/s (torch at precision 'auto', channels-last; onnxruntime fp32)",
                  auto_means='bf16' if auto_dtype is not None else 'fp32 (no native bf16)',
                  **common)]
    for line in lines:
        print(json.dumps(line))
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from results import write_results
    write_results('onnx_runtime', dict(
        fp32=lines[0], default_precision=lines[1],
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)))


if __name__ == '__main__':
    main()
