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


def own_data_panel(rows: list[dict] | None = None) -> str:
    """One line per dataset of ``own_data_panel.json``, means over its seeds (± sample std
    where there are several; the best baseline is the one with the highest mean), then the
    volumes' per-case scores, one line per row."""
    rows = _load('own_data_panel')['rows'] if rows is None else rows
    lines = ['| dataset | metric | Altair (init, unedited) | best baseline | baseline | '
             'ratio | train min | seeds |', '|---|---|---|---|---|---|---|---|']
    for name in dict.fromkeys(r['dataset'] for r in rows):
        group = [r for r in rows if r['dataset'] == name]
        names = group[0]['baselines']
        best = max(names, key=lambda b: np.mean([r['baselines'][b] for r in group]))
        lines.append(
            f"| {name} | {group[0]['metric']} | {_mean_std([r['score'] for r in group])} | "
            f"{best} | {_mean_std([r['baselines'][best] for r in group])} | "
            f"{np.mean([r['ratio'] for r in group]):.2f} | "
            f"{np.mean([r['train_minutes'] for r in group]):.1f} | "
            f"{', '.join(str(r['seed']) for r in group)} |")
    cases = [r for r in rows if 'case_scores' in r]
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
             f"{result['torch']}, {result['date'][:10]}):", '',
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


TABLES = {'own_data_panel': own_data_panel, 'recipe_speed': recipe_speed,
          'volume_predict': volume_predict}


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
