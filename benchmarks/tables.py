#!/usr/bin/env python
"""The docs' tables, made from the results files under ``benchmarks/results/``.

    python benchmarks/tables.py           # rewrite every generated block in README.md and docs/
    python benchmarks/tables.py --check   # exit 1 when a block differs from its results file

A generated block sits between ``<!-- NAME: ... -->`` and ``<!-- /NAME -->``; NAME is a key
of ``TABLES``. ``tests/test_benchmarks.py`` fails when a block is stale. The tables live here,
apart from the scripts that measure, so that a change to a table's wording leaves the
measuring code, and so the results files' freshness (``results.SOURCES``), alone.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'


def _load(name: str) -> dict:
    return json.loads((RESULTS / f'{name}.json').read_text())


def _cpu(r: dict) -> str:
    return f"{r['cpu']} {'with' if r['avx512_bf16'] else 'without'} AVX512-BF16"


def _mean_std(values: list[float], digits: int = 1) -> str:
    if len(values) == 1:
        return f'{values[0]:.{digits}f}'
    return f'{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}'


def _or_dash(value) -> str:
    return '–' if value is None else f'{value:.2f}'


def _where(row: dict) -> str:
    return f"{row['commit']} ({'bf16' if row['bf16'] else 'fp32'})"


def _ratio_range(ratios: dict[str, float]) -> str:
    low, high = min(ratios, key=ratios.get), max(ratios, key=ratios.get)
    return (f"{ratios[low]:.2f} ({low}) to {ratios[high]:.2f} ({high})" if low != high else
            f"{ratios[low]:.2f} ({low})")


def _panel_summary(rows: list[dict], cases: list[dict]) -> str:
    """The ratios' range over the images and over the volumes (means over seeds)."""
    volumes = {r['dataset'] for r in cases}
    ratios = {name: float(np.mean([r['ratio'] for r in rows if r['dataset'] == name]))
              for name in dict.fromkeys(r['dataset'] for r in rows)}
    text = ('Ratio to the best classical baseline on the scenes and tiles: '
            + _ratio_range({k: v for k, v in ratios.items() if k not in volumes}))
    if volumes:
        per_case = {name: float(np.mean([r['case_ratio'] for r in cases
                                         if r['dataset'] == name])) for name in volumes}
        text += ('; on the volumes, pooled over slices: '
                 + _ratio_range({k: v for k, v in ratios.items() if k in volumes})
                 + ', per case: ' + _ratio_range(per_case))
    return text + '.'


def _steps(row: dict) -> str:
    """A panel row's optimiser steps x images per step (their product: crops trained on)."""
    return f"{row['iters']} x {row['batch']}"


def own_data_panel(rows: list[dict] | None = None) -> str:
    """One line per dataset of ``own_data_panel.json``, means over its seeds (± sample std
    where there are several; the best baseline is the one with the highest mean), then the
    volumes' per-case scores, one line per row."""
    rows = _load('own_data_panel')['rows'] if rows is None else rows
    lines = ['| dataset | metric | Altair (init, unedited) | best baseline | baseline | '
             'ratio | train min | steps x batch | seeds | measured at (bf16: native, or fp32) |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for name in dict.fromkeys(r['dataset'] for r in rows):
        group = [r for r in rows if r['dataset'] == name]
        names = group[0]['baselines']
        best = max(names, key=lambda b: np.mean([r['baselines'][b] for r in group]))
        lines.append(
            f"| {name} | {group[0]['metric']} | {_mean_std([r['score'] for r in group])} | "
            f"{best} | {_mean_std([r['baselines'][best] for r in group])} | "
            f"{np.mean([r['ratio'] for r in group]):.2f} | "
            f"{np.mean([r['train_minutes'] for r in group]):.1f} | "
            f"{', '.join(dict.fromkeys(_steps(r) for r in group))} | "
            f"{', '.join(str(r['seed']) for r in group)} | "
            f"{', '.join(dict.fromkeys(_where(r) for r in group))} |")
    cases = [r for r in rows if 'case_scores' in r]
    lines += ['', _panel_summary(rows, cases)]
    if cases:  # volumes, scored per case as `altair test --cases` scores them
        lines += ['', '| volumes | per-case foreground Dice: Altair | Altair, mirrored (--tta '
                  'hflip vflip) | best baseline | baseline | ratio (mirrored, else plain) | '
                  'seed | commit |',
                  '|---|---|---|---|---|---|---|---|']
        lines += [f"| {r['dataset']} | {r['case_scores']['altair']:.2f} | "
                  f"{_or_dash(r['case_scores'].get('altair_tta'))} | {r['case_best_baseline']} | "
                  f"{r['case_scores'][r['case_best_baseline']]:.2f} | {r['case_ratio']:.3f} | "
                  f"{r['seed']} | {r['commit']} |" for r in cases]
    return '\n'.join(lines)


def recipe_speed(result: dict | None = None) -> str:
    """One line per variant of ``recipe_speed.json``, under where it was measured."""
    result = _load('recipe_speed') if result is None else result
    lines = [f"`{result['command']}` at {result['commit']} ({result['cpu']}, "
             f"{result['cores']} cores, avx512_bf16 {result['avx512_bf16']}, torch "
             f"{result['torch']}, {result['date'][:10]}; precision 'auto' is "
             f"{result['auto_means']} here):", '',
             '| variant | crop x batch | s / step | training pixels / s | ratio to fp32 |',
             '|---|---|---|---|---|']
    for r in result['rows']:
        lines.append(f"| {r['name'].removeprefix('recipe_speed_')} | {r['crop']} x {r['batch']} "
                     f"| {r['seconds_per_step']:.3f} | {r['pixels_per_second']:,} | "
                     f"{r['ratio']:.2f} |")
    return '\n'.join(lines)


def volume_predict() -> str:
    """``volume_predict_speed.json`` (one line per window and batch) and
    ``volume_predict_memory.json`` (one sentence)."""
    speed, mem = _load('volume_predict_speed'), _load('volume_predict_memory')
    lines = ['| window | windows per pass | Altair slices/s | MONAI slices/s | ratio | labels '
             'agree |', '|---|---|---|---|---|---|']
    for r in speed['rows']:
        lines.append(f"| {r['window'][0]} ({r['what']}) | {r['batch']}"
                     f"{' (probed default)' if r['default_batch'] else ''} | {r['ours']} | "
                     f"{r['baseline']} | {r['ratio']} | {100 * r['agreement']:.1f} % |")
    lines += ['', f"Speed: {speed['volume']} ({'x'.join(map(str, speed['shape']))}), "
              f"{speed['precision']}, best of {len(speed['rows'][0]['seconds']['altair'])} "
              f"runs a side, {_cpu(speed)}, commit {speed['commit']}. Memory: a "
              f"{'x'.join(map(str, mem['shape']))} volume predicted in "
              f"{mem['predict_seconds']} s with peak RSS {mem['ours']} MB, against "
              f"{mem['baseline']} MB for reading it whole as float32 (ratio {mem['ratio']}; "
              f"{mem['network']}; {_cpu(mem)}, commit {mem['commit']})."]
    return '\n'.join(lines)


def predict_scale_memory() -> str:
    """One sentence from ``predict_scale_memory.json``."""
    r = _load('predict_scale_memory')
    return (f"A {r['side']}x{r['side']} 3-band scene, labels as a COG and {r['features']:,} "
            f"polygons, predicted in {r['seconds']:.0f} s with a peak RSS of {r['ours']:.2f} GB "
            f"(goal {r['baseline']} GB; `{r['command']}`, {_cpu(r)}, commit {r['commit']}, "
            f"{r['date'][:10]}).")


def _stamp(r: dict) -> str:
    return (f"`{r['command']}` at {r['commit']} ({_cpu(r)}, {r['cores']} cores, torch "
            f"{r['torch']}, {r['date'][:10]})")


def sliding_window() -> str:
    """``sliding_window.json``: the decomposition over mmseg, one row per change, then the
    engine against the pure forward and ``precision='auto'`` against mmseg."""
    r = _load('sliding_window')
    d, pure, auto = r['decomposed'], r['pure_forward'], r['auto']
    lines = [f"{_stamp(r)}: {d['image']}, window {d['window']}, stride {d['stride']} "
             f"({d['windows']} windows), {d['model']}:", '',
             '| row | time | × mmseg | × the row above | peak RSS |', '|---|---|---|---|---|']
    for row in d['rows']:
        if 'seconds' not in row:
            lines.append(f"| {row['what']} | – | – | – | – |")
        elif row['row'].startswith('altair_bf16'):
            lines.append(f"| {row['what']} | {row['seconds']:.2f} s (mmseg "
                         f"{row['baseline_seconds']:.2f} s) | {row['vs_mmseg']:.2f} | – | – |")
        else:
            above = '–' if row['vs_previous_row'] is None else f"{row['vs_previous_row']:.2f}"
            lines.append(f"| {row['what']} | {row['seconds']:.2f} s | {row['vs_mmseg']:.2f} | "
                         f"{above} | {row['peak_rss_mb']:.0f} MB |")
    lines += ['', f"Labels equal to mmseg's: {100 * d['label_agreement_with_mmseg']:.3f} % "
              f"(mmseg averages windows uniformly, Altair blends them with gaussian weights). "
              f"The engine against the model's pure forward over the same windows (nothing "
              f"stitched; medians of {pure['reps']} alternating runs): {pure['ours']:.2f} s "
              f"against {pure['baseline']:.2f} s, ratio {pure['ratio']:.3f} (goal ≤ 1.03). "
              f"`precision='auto'` against mmseg, auto being {auto['auto_means']} here: "
              f"{auto['ratio']:.2f}× (goal ≥ 2)."]
    return '\n'.join(lines)


def sliding_window_scale() -> str:
    """One sentence from ``sliding_window_scale.json``."""
    r = _load('sliding_window_scale')
    return (f"A synthetic {r['side']}x{r['side']} 3-band GeoTIFF predicted with a "
            f"{r['classes']}-class {r['model']} ({r['windows']:,} windows, {r['seconds']:.0f} s): "
            f"peak RSS **{r['ours']:.2f} GB**, where whole-image stitching would hold "
            f"{r['mmseg_needs_gb_computed']} GB (mmseg's `slide_inference`) and "
            f"{r['monai_needs_gb_computed']} GB (MONAI's `sliding_window_inference`): the "
            f"float32 input, logits and count map at full size, computed, not run. "
            f"{_stamp(r)}.")


def tta() -> str:
    """``tta.json``: D4 TTA's time in one-forward units, per way of batching the views."""
    r = _load('tta')
    rows = [(f"{r['views_per_call']}", r['ratio'], r['peak_rss_mb']),
            (f"what the probe picked ({r['probed_views_per_call']} here)", r['probed_ratio'],
             None),
            ('all 8 in one call', r['batch8_ratio'], r['batch8_peak_rss_mb']),
            ('one by one, contiguous (what ttach does)',
             round(r['one_by_one_seconds'] / r['single_seconds'], 3), r['one_by_one_peak_rss_mb'])]
    lines = [f"{_stamp(r)}: input {r['input']}, {r['model']}, fp32, median of {r['reps']}; one "
             f"channels-last forward {r['single_seconds']:.3f} s, peak RSS "
             f"{r['baseline_peak_rss_mb']:.0f} MB:", '',
             '| views per call | time / one forward (goal ≤ 8.5) | peak RSS |', '|---|---|---|']
    for what, ratio, rss in rows:
        lines.append(f"| {what} | {ratio:.2f}× | {'–' if rss is None else f'{rss:.0f} MB'} |")
    return '\n'.join(lines)


def onnx_runtime() -> str:
    """``onnx_runtime.json``: onnxruntime against torch in fp32 and at the default precision."""
    r = _load('onnx_runtime')
    fp32, auto = r['fp32'], r['default_precision']
    return '\n'.join([
        f"{_stamp(r)}, {fp32['threads']} threads, {fp32['model']}:", '',
        '| torch side | torch windows/s | onnxruntime windows/s | ratio |', '|---|---|---|---|',
        f"| fp32 | {fp32['baseline']:.1f} | {fp32['ours']:.1f} | {fp32['ratio']:.2f} |",
        f"| default precision (`auto`, here {auto['auto_means']}) | {auto['baseline']:.1f} | "
        f"{auto['ours']:.1f} | {auto['ratio']:.2f} |", '',
        f"onnxruntime against torch fp32 on those windows: max |Δlogit| "
        f"{fp32['max_abs_logit_diff']:.1e}, labels equal on {100 * fp32['labels_equal']:.2f} % "
        f"of the pixels; peak RSS {r['peak_rss_mb'] / 1024:.1f} GB."])


def demo_baselines() -> str:
    """One sentence from ``demo_baselines.json`` (one `altair demo` run)."""
    r = _load('demo_baselines')
    others = ', '.join(f'{name} {value:.2f}' for name, value in r['baselines'].items())
    return (f"`altair demo` ({r['config']}, trained {r['train_minutes']} min, the whole demo "
            f"{r['demo_minutes']} min): val mIoU **{r['ours']:.2f}** on the 17 held-out tiles, "
            f"against {others} for the classical baselines fitted on the same training tiles: "
            f"ratio **{r['ratio']:.2f}** to the best ({r['best_baseline']}); {_cpu(r)}, "
            f"commit {r['commit']}, {r['date'][:10]}.")


def train_throughput() -> str:
    """``train_throughput.json``: Altair's training loop against plain mmseg's."""
    r = _load('train_throughput')
    runs = r['runs']
    return (f"{_stamp(r)}: {r['model']}, batch {r['batch']}, fp32 on both sides, {r['reps']} "
            f"alternating runs × {r['iters']} iterations a side (the first {r['warmup']} "
            f"dropped): Altair **{r['ours']:.3f} it/s** against mmseg **{r['baseline']:.3f} "
            f"it/s** (medians), ratio **{r['ratio']:.3f}**; single runs {min(runs['altair']):.3f}"
            f"–{max(runs['altair']):.3f} it/s (Altair) and {min(runs['mmseg']):.3f}–"
            f"{max(runs['mmseg']):.3f} (mmseg); peak RSS {r['peak_rss_mb']:.0f} MB against "
            f"{r['baseline_peak_rss_mb']:.0f} MB.")


def ddp_scaling() -> str:
    """``ddp_scaling.json``: images/s with N processes against 1."""
    r = _load('ddp_scaling')
    runs = r['runs_images_per_s']
    n = next(k for k in runs if k != '1')
    return (f"{_stamp(r)}: {r['model']}, batch {r['batch_per_process']} per process, "
            f"{r['iters']} iterations (first {r['warmup']} dropped), {r['reps']} alternating "
            f"runs a side on {r['device']}: **{r['ours']:.2f} images/s with {n} processes "
            f"against {r['baseline']:.2f} with 1**, ratio **{r['ratio']:.2f}** (ideal "
            f"{r['ideal_speedup']}); runs {min(runs[n]):.2f}–{max(runs[n]):.2f} with {n}, "
            f"{min(runs['1']):.2f}–{max(runs['1']):.2f} with 1; peak RSS "
            f"{r['peak_rss_mb']:.0f} MB per process against {r['baseline_peak_rss_mb']:.0f} MB.")


def augment_presets() -> str:
    """``augment_presets.json``: each preset's images/s on one core against the training
    step, then the satellite preset's val mIoU against none (if measured)."""
    r = _load('augment_presets')
    speed, quality = r['speed'], r['quality']
    lines = [f"{_stamp(r)}: 512×512 Blue Marble crops, one core; the demo PSPNet trains on "
             f"**{speed['baseline']:.2f} images/s** (batch 8, all cores):", '',
             '| preset | images/s (1 core) | × what training consumes |', '|---|---|---|']
    for name, rate in speed['presets_images_per_s'].items():
        lines.append(f"| {name} | {rate:.1f} | {speed['ratios'][name]:.1f} |")
    if quality:
        lines += ['', f"Trained {quality['train_iters']} iterations from scratch "
                  f"({quality['model']}): val mIoU **{quality['baseline']:.2f} with no "
                  f"augmentation** (whole tiles) and **{quality['ours']:.2f} with `satellite`** "
                  f"(ratio {quality['ratio']:.3f}; one seed)."]
    return '\n'.join(lines)


def raster_loader() -> str:
    """``raster_loader.json``: a scene dataset's windows/s against a training step's."""
    r = _load('raster_loader')
    return (f"{_stamp(r)}: {r['model']}, {r['windows']} random windows with MODIS labels "
            f"reprojected onto each: **{r['ours']:.1f} windows/s** in one process on one core, "
            f"while the generated model trains on **{r['baseline']:.2f} windows/s** (batch "
            f"{r['batch']}, fp32, all cores): ratio **{r['ratio']:.1f}** (peak RSS "
            f"{r['peak_rss_mb'] / 1024:.1f} GB).")


def _model(config: str) -> str:
    return f"`{config}`"


def model_zoo() -> str:
    """``model_zoo.json``: one line per config (its `altair demo` run), per-class IoU, then
    the classical baselines the demos fitted on the same training tiles."""
    rows = _load('model_zoo')['rows']
    classes = list(rows[0]['per_class_iou'])
    lines = ['| config | val mIoU | aAcc | ratio to the best baseline | whole-globe pixel '
             'accuracy | train | whole demo | ' + ' | '.join(classes) + ' | measured at |',
             '|---' * (8 + len(classes)) + '|']
    for r in rows:
        lines.append(
            f"| {_model(r['config'])} | {r['mIoU']:.2f} | {r['aAcc']:.2f} | {r['ratio']:.2f} "
            f"({r['best_baseline']}) | {r['globe_pixel_accuracy']:.2f} % | "
            f"{r['train_minutes']:.1f} min | {r['demo_minutes']:.1f} min | "
            + ' | '.join(f"{r['per_class_iou'][c]:.2f}" for c in classes)
            + f" | {r['commit']}, {_cpu(r)}, {r['date'][:10]} |")
    for name in rows[0]['baselines']:
        values = dict.fromkeys(f"{r['baselines'][name]:.2f}" for r in rows)
        lines.append(f"| classical: {name.replace('_', ' ')} | {' / '.join(values)} |"
                     + ' |' * (6 + len(classes)))
    return '\n'.join(lines)


def model_zoo_tta() -> str:
    """``model_zoo.json``: each config's best checkpoint tested without TTA and with each
    transform list of ``benchmarks/model_zoo.py``."""
    rows = _load('model_zoo')['rows']
    views = list(rows[0]['tta_mIoU'])
    lines = ['| config | ' + ' | '.join(f'`{v}`' if v != 'none' else 'no TTA' for v in views)
             + ' |', '|---' * (1 + len(views)) + '|']
    lines += [f"| {_model(r['config'])} | " + ' | '.join(f"{r['tta_mIoU'][v]:.2f}"
                                                          for v in views) + ' |' for r in rows]
    return '\n'.join(lines)


def bluemarble_scene() -> str:
    """``bluemarble_scene.json``: the scene-trained PSPNet against the tiled demo's, per
    class, on the demo's 17 validation tiles."""
    r = _load('bluemarble_scene')
    classes = [k[len('IoU.'):] for k in r['per_class']]
    zoo = {row['run']: row for row in _load('model_zoo')['rows']}
    reused = ''.join(
        f"; the tiled demo's numbers are those of the model zoo's `{zoo[run]['config']}` run "
        f"({run}, measured at {zoo[run]['commit']})" if run in zoo else
        f"; a finished run reused: {run}" for run in r['reused_runs'])
    lines = [f"{_stamp(r)}: {r['unit']}, {r['precision']}{reused}:", '',
             '| training data | val mIoU (17 tiles) | ' + ' | '.join(classes) + ' |',
             '|---' * (2 + len(classes)) + '|',
             f"| tiled demo (`configs/pspnet.py`) | {r['baseline']:.2f} | "
             + ' | '.join(f"{r['tiled_per_class'][f'IoU.{c}']:.2f}" for c in classes) + ' |',
             f"| the two source rasters (`RasterSceneDataset`) | **{r['ours']:.2f}** "
             f"({r['points']:+.2f} points, ratio {r['ratio']:.3f}) | "
             + ' | '.join(f"{r['per_class'][f'IoU.{c}']:.2f}" for c in classes) + ' |',
             '', f"On its own validation windows (ocean included) the scene model scores "
                 f"{r['own_val_windows_mIoU']:.2f} mIoU."]
    return '\n'.join(lines)


IMBALANCE_RECIPES = {
    'imbalance_ce': "plain cross-entropy (`class_weight=None`, the baseline)",
    'imbalance_ce_auto_weights': "`class_weight='auto'` (`configs/segformer.py`)",
    'imbalance_dice_ce': 'Dice + CE', 'imbalance_focal': 'focal',
    'imbalance_lovasz_ce': 'Lovász + CE'}


def imbalance() -> str:
    """``imbalance.json``: each rare-class recipe against plain cross-entropy, same model,
    seed and schedule, on the 17 val tiles."""
    rows = sorted(_load('imbalance')['rows'], key=lambda r: list(IMBALANCE_RECIPES).index(
        r['name']) if r['name'] in IMBALANCE_RECIPES else len(IMBALANCE_RECIPES))
    rare = rows[0]['rare_classes']
    lines = [f"{_stamp(rows[0])}: {rows[0]['iters']} iterations each, seed {rows[0]['seed']}, "
             f"precision `auto`; the rare classes: {', '.join(rare)}.", '',
             '| recipe | ' + ' | '.join(rare) + ' | rare mean | points vs the baseline | '
             'ratio | mIoU | train | measured at |', '|---' * (7 + len(rare)) + '|']
    for r in rows:
        lines.append(
            f"| {IMBALANCE_RECIPES.get(r['name'], r['name'])} | "
            + ' | '.join(f"{r['iou'][c]:.2f}" for c in rare)
            + f" | {r['ours']:.2f} | {r['points']:+.2f} | {r['ratio']:.2f} | {r['mIoU']:.2f} | "
            f"{r['train_minutes']:.1f} min | {r['commit']} |")
    return '\n'.join(lines)


def _search(search: dict) -> str:
    return ', '.join(f'{k} {v:.2f}' for k, v in search.items())


def _seeds(mean: float, std: float, seeds: list[float]) -> str:
    return f"{mean:.2f} ± {std:.2f} ({', '.join(f'{v:.2f}' for v in seeds)})"


def ssl_transfer() -> str:
    """``ssl_transfer.json``: per method and label fraction, the pretrained model against the
    same architecture from scratch, each side at the best of the same learning-rate x
    layer-decay search on the tuning split, then the seeds on val."""
    rows = _load('ssl_transfer')['rows']
    lines = ['| fine-tuned config (pretrained side) | labelled tiles | from scratch | pretrained '
             '| points | ±1 std overlap | chosen lr / layer decay (scratch; pretrained) | '
             'pretraining | measured at |', '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        chosen = r['search']['chosen']
        budget = (f"`{r['pretrain_config']}`, {r['pretrain_iters']} iterations, "
                  f"{r['pretrain_cpu_minutes']} CPU min" if 'pretrain_config' in r else
                  f"the weights of the row above (`{r['pretrained_weights']}`)")
        lines.append(
            f"| `{r['pretrained']}` | {r['label_tiles']} | "
            f"{_seeds(r['baseline'], r['baseline_std'], r['baseline_seeds'])} | "
            f"{_seeds(r['ours'], r['ours_std'], r['ours_seeds'])} | {r['points']:+.2f} | "
            f"{'yes' if r['intervals_overlap'] else 'no'} | "
            f"{chosen['scratch'][0]:g} / {chosen['scratch'][1]:g}; "
            f"{chosen['pretrained'][0]:g} / {chosen['pretrained'][1]:g} | {budget} | "
            f"{r['commit']}, {_cpu(r)}, {r['date'][:10]} |")
    lines += ['', f"Each side's search, scored on the {rows[0]['tuning_tiles']} tuning tiles "
              '(learning rate / layer decay: mIoU, seed 0):', '']
    lines += [f"- {r['label_tiles']} labelled tiles, from scratch: "
              f"{_search(r['search']['scratch'])}; pretrained: "
              f"{_search(r['search']['pretrained'])}" for r in rows]
    return '\n'.join(lines)

def precision_agreement() -> str:
    """One sentence from ``precision_agreement.json``: bf16 labels against fp32's."""
    r = _load('precision_agreement')
    bf16 = next(row for row in r['rows'] if row['precision'] == 'bf16')
    how = 'native' if r['native_bf16'] or r['device'] == 'cuda' else 'emulated on this CPU'
    return (f"On the demo model (an `altair demo` run of `configs/segformer.py`), bf16 labels "
            f"equal fp32's on "
            f"**{100 * bf16['label_agreement']:.3f} %** of the {r['pixels'] / 1e6:.2f} M pixels "
            f"of the {r['images']} val tiles (goal ≥ 99.5 %; bf16 {how}; {_stamp(r)}).")


TABLES = {'own_data_panel': own_data_panel, 'recipe_speed': recipe_speed,
          'volume_predict': volume_predict, 'predict_scale_memory': predict_scale_memory,
          'sliding_window': sliding_window, 'sliding_window_scale': sliding_window_scale,
          'tta': tta, 'onnx_runtime': onnx_runtime, 'demo_baselines': demo_baselines,
          'train_throughput': train_throughput, 'ddp_scaling': ddp_scaling,
          'augment_presets': augment_presets, 'raster_loader': raster_loader,
          'model_zoo': model_zoo, 'model_zoo_tta': model_zoo_tta,
          'bluemarble_scene': bluemarble_scene, 'imbalance': imbalance,
          'ssl_transfer': ssl_transfer,
          'precision_agreement': precision_agreement}


def pages() -> list[Path]:
    return [ROOT / 'README.md', *sorted((ROOT / 'docs').rglob('*.md'))]


def regenerate(text: str) -> str:
    """``text`` with every generated block's body replaced by its table."""
    for name, make in TABLES.items():
        pattern = re.compile(rf'(<!-- {name}:[^\n]*-->\n)(.*?)(<!-- /{name} -->)', re.S)
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + '\n' + m.group(3), text)
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--check', action='store_true', help='exit 1 if a block is stale')
    args = p.parse_args()
    stale = []
    for page in pages():
        text = page.read_text()
        new = regenerate(text)
        if new != text:
            stale.append(page.relative_to(ROOT))
            if not args.check:
                page.write_text(new)
    for page in stale:
        print(f"{'stale' if args.check else 'rewrote'}: {page}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == '__main__':
    sys.exit(main())
