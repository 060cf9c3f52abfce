"""Results files of the benchmarks: ``benchmarks/results/<name>.json`` with the figures and
where they were measured (commit, CPU model and flags, torch, date, command)."""
from __future__ import annotations

import datetime
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'

# results name -> the files and folders whose code it measures (the script that measures is
# always one of them); a commit touching any of them after a results file's makes it stale.
# A tuple is a folder less the files after it.
_VOLUMES = ['altair/prediction/', 'altair/inference/', 'altair/raster/volume.py',
            'altair/raster/volume_write.py', 'altair/datasets/cases.py', 'altair/models/']
# `altair init`: what plans, writes and times its configs. Only the benchmarks that run it
# measure it; the others train configs written by hand, which import none of it.
_PLANNER = ['altair/datasets/plan.py', 'altair/datasets/volume_plan.py',
            'altair/datasets/data_plan.py']
_INIT = [*(f'altair/api/{m}.py' for m in ('init', 'init_models', 'init_render', 'step_time')),
         *_PLANNER]
# training and testing: every altair/api/ module but init, prediction, export and plots
_API_TRAINING = [f'altair/api/{m}.py' for m in (
    '__init__', 'compile', 'config_source', 'demo', 'load', 'runs', 'test', 'test_cases',
    'train', 'worker')]
_TRAINING = [*_API_TRAINING, ('altair/datasets/', *_PLANNER), 'altair/engine/',
             'altair/models/', 'altair/evaluation/', 'altair/config.py', 'configs/_base_/']
SOURCES = {
    'volume_predict_speed': ['benchmarks/volume_predict.py', *_VOLUMES],
    'volume_predict_memory': ['benchmarks/volume_predict.py', *_VOLUMES],
    'recipe_speed': ['benchmarks/recipe_speed.py', 'altair/datasets/plan.py',
                     'altair/models/', 'altair/engine/amp.py'],
    # scenes, polygons and volumes are read, reprojected and burnt by altair/raster/
    'own_data_panel': ['benchmarks/own_data.py', 'altair/api/predict.py',
                       'altair/api/predict_worker.py', 'altair/prediction/', 'altair/raster/',
                       *_TRAINING, *_INIT],
    'predict_scale_memory': ['benchmarks/predict_scale.py', 'benchmarks/sliding_window.py',
                             'altair/inference/', 'altair/prediction/', 'altair/raster/'],
    'sliding_window': ['benchmarks/sliding_window.py', 'altair/inference/',
                       'altair/prediction/', 'altair/raster/', 'altair/models/'],
    'onnx_runtime': ['benchmarks/onnx_runtime.py', 'altair/api/export.py', 'altair/api/load.py',
                     'altair/models/'],
    'demo_baselines': ['benchmarks/bluemarble_baselines.py', 'altair/api/demo.py',
                       'altair/evaluation/', 'configs/segformer.py', *_TRAINING],
    'tta': ['benchmarks/tta.py', 'altair/inference/', 'altair/models/'],
    'sliding_window_scale': ['benchmarks/sliding_window.py', 'altair/inference/',
                             'altair/prediction/', 'altair/raster/'],
    'train_throughput': ['benchmarks/train_throughput.py', 'configs/pspnet.py', *_TRAINING],
    'ddp_scaling': ['benchmarks/ddp_scaling.py', 'configs/pspnet.py', *_TRAINING],
    'augment_presets': ['benchmarks/augment_presets.py', 'configs/pspnet.py', *_TRAINING],
    'raster_loader': ['benchmarks/raster_loader.py', 'benchmarks/own_data.py', 'altair/raster/',
                      *_TRAINING, *_INIT],
    'ssl_transfer': ['benchmarks/ssl_transfer.py', 'configs/selfsup/', 'configs/fcn/',
                     *_TRAINING],
    'model_zoo': ['benchmarks/model_zoo.py', 'configs/pspnet.py', 'configs/pspnet/',
                  'configs/deeplabv3plus.py', 'configs/deeplabv3plus/', 'configs/segformer.py',
                  'configs/segformer/', 'altair/inference/', 'altair/prediction/', *_TRAINING],
    'bluemarble_scene': ['benchmarks/bluemarble_scene.py', 'configs/pspnet.py',
                         'configs/pspnet/', 'altair/raster/', *_TRAINING],
    'imbalance': ['benchmarks/imbalance.py', 'configs/segformer.py', 'configs/segformer/',
                  *_TRAINING],
    # the prediction path at each precision (the model: a finished demo run, trained before)
    'precision_agreement': ['benchmarks/precision_agreement.py', 'altair/api/predict.py',
                            'altair/inference/', 'altair/prediction/', 'altair/models/'],
}


def commit() -> str:
    """The checkout's short commit, ``+dirty`` where tracked files other than the results
    files differ from it (a benchmark that writes two results files, or a run after another,
    measures clean code all the same)."""
    def git(*args: str) -> str:
        return subprocess.run(['git', *args], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    head = git('rev-parse', '--short', 'HEAD') or 'unknown'
    changed = git('status', '--porcelain', '--untracked-files=no', '--', '.',
                  ':(exclude)benchmarks/results')
    return head + ('+dirty' if changed else '')


def machine() -> dict:
    """CPU model, core count and whether bf16 is native (AVX512-BF16 or AMX), and torch."""
    import os

    import torch
    flags, model = set(), platform.processor()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name') and model in ('', 'x86_64'):
                model = line.split(':', 1)[1].strip()
            elif line.startswith('flags'):
                flags.update(line.split(':', 1)[1].split())
    except OSError:
        pass
    return dict(cpu=model, cores=os.cpu_count(), avx512_bf16='avx512_bf16' in flags,
                amx_bf16='amx_bf16' in flags, torch=torch.__version__.split('+')[0])


def stamp() -> dict:
    """Where and when: commit, machine, UTC date, the command line (the script's path from
    the checkout's root, wherever it was run from)."""
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    argv = list(sys.argv)
    if script is not None and script.is_relative_to(ROOT):
        argv[0] = script.relative_to(ROOT).as_posix()
    return dict(commit=commit(), **machine(),
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                command=' '.join([Path(sys.executable).name, *argv]))


def write_results(name: str, figures: dict) -> Path:
    """Write ``benchmarks/results/<name>.json``: :func:`stamp` and ``figures``, atomically."""
    from altair.fileio import write_json
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f'{name}.json'
    write_json(path, dict(stamp(), **figures))
    return path


def write_row(name: str, row: dict, *, key: str | tuple[str, ...], order=None) -> Path:
    """Add ``row``, stamped (:func:`stamp`; the row's own fields win, e.g. a per-row
    command), to the ``rows`` of ``benchmarks/results/<name>.json``, in place of the row with
    the same ``key`` field(s): a results file filled in parts, each row naming its own commit.
    ``order``: a sort key for the rows (else a new row goes last)."""
    import json

    from altair.fileio import write_json
    keys = (key,) if isinstance(key, str) else tuple(key)
    path = RESULTS / f'{name}.json'
    rows = json.loads(path.read_text())['rows'] if path.is_file() else []
    new = dict(stamp(), **row)
    same = [all(r.get(k) == row[k] for k in keys) for r in rows]
    rows = [new if hit else r for r, hit in zip(rows, same)] + ([] if any(same) else [new])
    if order is not None:
        rows.sort(key=order)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(path, dict(commit=new['commit'], rows=rows))
    return path


def changed_since(measured: str, paths: list, *, root: Path = ROOT) -> list[str]:
    """The commits after ``measured`` (a results file's commit, ``+dirty`` or not) that
    touch ``paths`` (a tuple: a folder less the files after it), newest first;
    ``['unknown commit ...']`` where ``measured`` is not in the history of the checkout at
    ``root``."""
    def git(*args: str) -> list[str]:
        return subprocess.run(['git', *args], cwd=root, capture_output=True,
                              text=True).stdout.split()
    base = measured.split('+', 1)[0]
    if not git('rev-parse', '--verify', '--quiet', f'{base}^{{commit}}'):
        return [f'unknown commit {measured}']
    plain = [p for p in paths if isinstance(p, str)]
    # git applies an exclusion to every path of a call: one call per folder that has them
    calls = [plain] if plain else []
    calls += [[folder, *(f':(exclude){f}' for f in less)]
              for folder, *less in (p for p in paths if not isinstance(p, str))]
    touched = {c for call in calls for c in git('log', '--format=%h', f'{base}..HEAD', '--',
                                                 *call)}
    return [c for c in git('log', '--format=%h', f'{base}..HEAD') if c in touched]


def _row_label(row: dict, index: int) -> str:
    """What names a row of a results file filled in parts: its dataset and seed, its config
    or its name (else its index)."""
    if 'dataset' in row:
        return f"{row['dataset']}, seed {row.get('seed')}"
    return str(row.get('config', row.get('name', index)))


def stale_results() -> dict[str, list[str]]:
    """``{results file (and row): commits since it that touch its sources}`` for every
    results file under ``benchmarks/results/``, rows of a table file checked one by one.

    Raises:
        KeyError: a results file with no entry in ``SOURCES``.
    """
    import json
    out = {}
    for path in sorted(RESULTS.glob('*.json')):
        sources = SOURCES[path.stem]
        data = json.loads(path.read_text())
        rows = data.get('rows') if isinstance(data.get('rows'), list) else None
        items = ([(f'{path.name}[{_row_label(r, i)}]', r['commit'])
                  for i, r in enumerate(rows) if 'commit' in r] if rows and 'commit' in rows[0]
                 else [(path.name, data['commit'])])
        for label, measured in items:
            since = changed_since(measured, sources)
            if since:
                out[label] = since
    return out
