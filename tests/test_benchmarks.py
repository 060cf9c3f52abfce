"""The arithmetic behind the benchmarks' reported numbers (the scripts themselves run for minutes
to hours and live outside the suite)."""
import importlib.util
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'benchmarks' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated_block(name: str) -> str:
    """The text between ``<!-- name: ... -->`` and ``<!-- /name -->`` in the README and the
    docs pages: on the benchmark's own page and maybe in a guide, every copy the same."""
    import re
    pattern = re.compile(rf'<!-- {name}:[^\n]*-->\n(.*?)<!-- /{name} -->', re.S)
    found = [m.group(1) for p in [ROOT / 'README.md', *sorted((ROOT / 'docs').rglob('*.md'))]
             for m in pattern.finditer(p.read_text())]
    assert found and len(set(found)) == 1, f'block {name}: {len(found)} copies, differing'
    return found[0]


ssl = _script('ssl_transfer')


@pytest.mark.parametrize('fraction, k', [(0.1, 9), (0.5, 43), (0.01, 1)])
def test_label_subset_is_fixed_sorted_and_distinct(fraction, k):
    a = ssl.label_subset(86, fraction)
    assert a == ssl.label_subset(86, fraction)  # the same tiles on every run
    assert len(a) == k and a == sorted(set(a)) and 0 <= a[0] and a[-1] < 86
    assert ssl.label_subset(86, fraction, seed=1) != a
    assert ssl.label_subset(86, 1.0) is None


@pytest.mark.parametrize('fraction', [0, -0.1, 1.5])
def test_label_subset_rejects_a_fraction_outside_0_1(fraction):
    with pytest.raises(ValueError, match=str(fraction)):
        ssl.label_subset(86, fraction)


@pytest.mark.parametrize('fraction, k', [(0.1, 9), (0.5, 43), (1.0, 69)])
def test_the_tuning_split_is_fixed_and_apart_from_the_labelled_tiles(fraction, k):
    """17 of 86 tiles for tuning, the labelled ones (the fraction of all 86, at most the 69
    left) from the others: disjoint, sorted, the same on every run."""
    tuning, labelled = ssl.tuning_split(86, 17, fraction)
    assert (tuning, labelled) == ssl.tuning_split(86, 17, fraction)
    assert len(tuning) == 17 and len(labelled) == k
    assert tuning == sorted(set(tuning)) and labelled == sorted(set(labelled))
    assert not set(tuning) & set(labelled) and set(tuning) | set(labelled) <= set(range(86))
    assert ssl.tuning_split(86, 17, fraction, seed=2)[0] != tuning
    with pytest.raises(ValueError, match='17 of 17 samples'):
        ssl.tuning_split(17, 17, 0.1)


def test_best_setting_is_the_highest_score_ties_to_the_plainer():
    assert ssl.best_setting({(1e-3, 1.0): 40.0, (2e-3, 0.75): 41.5, (5e-4, 1.0): 39.0}) == (
        2e-3, 0.75)
    tie = {(2e-3, 1.0): 40.0, (1e-3, 0.75): 40.0, (1e-3, 1.0): 40.0}
    assert ssl.best_setting(tie) == (1e-3, 1.0)


def test_mean_std_is_the_sample_std():
    values = [37.88, 35.30, 36.56]
    mean, std = ssl.mean_std(values)
    assert mean == pytest.approx(statistics.fmean(values))
    assert std == pytest.approx(statistics.stdev(values))
    assert ssl.mean_std([40.0]) == (40.0, 0.0)


def test_intervals_overlap_matches_a_brute_force_check():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = rng.uniform(30, 45, 2), rng.uniform(30, 45, 2)
        a[1], b[1] = abs(a[1] - 30) / 5, abs(b[1] - 30) / 5
        grid = np.linspace(20, 60, 40001)
        in_a = (grid >= a[0] - a[1]) & (grid <= a[0] + a[1])
        in_b = (grid >= b[0] - b[1]) & (grid <= b[0] + b[1])
        expected = bool((in_a & in_b).any())
        gap = max(a[0] - a[1], b[0] - b[1]) - min(a[0] + a[1], b[0] + b[1])
        if abs(gap) > 1e-3:  # away from touching intervals the grid decides
            assert ssl.intervals_overlap(tuple(a), tuple(b)) == expected
    assert ssl.intervals_overlap((40.93, 1.31), (36.58, 1.29)) is False  # README's 10 % row
    assert ssl.intervals_overlap((38.81, 4.74), (33.84, 3.37)) is True


def test_rescale_schedule_keeps_the_warmup_share():
    sched = [dict(type='LinearLR', begin=0, end=50, by_epoch=False),
             dict(type='PolyLR', begin=50, end=600, by_epoch=False, eta_min=0)]
    out = ssl.rescale_schedule(sched, 600, 200)
    assert [(s['begin'], s['end']) for s in out] == [(0, 17), (17, 200)]
    assert out[1]['eta_min'] == 0 and sched[0]['end'] == 50  # input left alone


def test_parse_options_reads_python_literals():
    assert ssl.parse_options(['a.b=3', 'c=(1, 2)', 'd=adamw', "e=[0.5, 'x']"]) == {
        'a.b': 3, 'c': (1, 2), 'd': 'adamw', 'e': [0.5, 'x']}
    with pytest.raises(SystemExit, match='KEY=VALUE'):
        ssl.parse_options(['novalue'])


def test_method_paths_take_existing_files_and_refuse_the_rest(tmp_path, capsys):
    import argparse
    f = tmp_path / 'mae=1.pth'  # a name that reads as METHOD=literal must stay a path
    f.write_bytes(b'')
    parser = argparse.ArgumentParser(prog='ssl_transfer.py')
    assert ssl.method_paths(parser, '--weights', [f'mae={f}'], 'a file') == {'mae': f}
    for bad in (str(f), f'byol={f}', f'mae={tmp_path / "missing.pth"}'):
        with pytest.raises(SystemExit) as exc:
            ssl.method_paths(parser, '--weights', [bad], 'an existing exported backbone file')
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert f'--weights {bad}' in err and 'METHOD one of simclr, dino, mae' in err


def test_unlabelled_sources_point_blue_marble_at_the_data_root():
    single = dict(type='BlueMarbleCrops', data_root='data/bluemarble')
    assert ssl.unlabelled_sources(single, '/d') == [
        'Blue Marble crops outside the val longitudes']
    assert single['data_root'] == '/d'
    concat = dict(type='ConcatDataset', datasets=[
        dict(type='BlueMarbleCrops', data_root='x'), dict(type='RasterCrops', path='/s.tif')])
    assert ssl.unlabelled_sources(concat, '/d') == [
        'Blue Marble crops outside the val longitudes', 'RasterCrops /s.tif']
    assert concat['datasets'][0]['data_root'] == '/d' and 'data_root' not in concat['datasets'][1]


def test_every_results_row_was_measured():
    """Every row of the panel file was measured: a ratio that is its score over its best
    baseline, a commit, a CPU; and every recipe-speed ratio is its pixel rate over fp32's."""
    import json
    rows = json.loads((ROOT / 'benchmarks' / 'results' / 'own_data_panel.json').read_text())
    for row in rows['rows']:
        best = row['baselines'][row['best_baseline']]
        assert best == max(row['baselines'].values())
        assert row['ratio'] == pytest.approx(row['score'] / best, abs=1e-3)
        assert row['commit'] and row['cpu'] and row['train_minutes'] > 0
    result = json.loads((ROOT / 'benchmarks' / 'results' / 'recipe_speed.json').read_text())
    base = next(r for r in result['rows'] if r['name'] == 'recipe_speed_fp32')
    for row in result['rows']:
        assert row['ratio'] == pytest.approx(row['pixels_per_second'] / base['pixels_per_second'],
                                             abs=1e-3)
        assert row['pixels_per_second'] == pytest.approx(
            row['crop'] ** 2 * row['batch'] / row['seconds_per_step'], rel=1e-3)


TABLED = ['own_data_panel', 'recipe_speed', 'volume_predict', 'predict_scale_memory',
          'sliding_window', 'sliding_window_scale', 'tta', 'onnx_runtime', 'demo_baselines',
          'train_throughput', 'ddp_scaling', 'augment_presets', 'raster_loader', 'model_zoo',
          'model_zoo_tta', 'bluemarble_scene', 'imbalance', 'ssl_transfer',
          'precision_agreement']


@pytest.mark.parametrize('name', TABLED)
def test_the_docs_tables_are_the_results_files(name):
    """Each generated block is benchmarks/tables.py's table of its results files, found
    exactly once in the README and the docs."""
    tables = _script('tables')
    assert set(tables.TABLES) == set(TABLED)
    assert generated_block(name).strip() == tables.TABLES[name]()


def test_every_results_file_has_its_sources_and_a_table():
    results = _script('results')
    files = {p.stem for p in (ROOT / 'benchmarks' / 'results').glob('*.json')}
    assert files == set(results.SOURCES)
    tables = (ROOT / 'benchmarks' / 'tables.py').read_text()
    assert {f for f in files if f"_load('{f}')" not in tables} == set()


def test_the_ratios_of_the_speed_and_memory_files_are_their_figures():
    """Each ratio is the quotient its unit states, recomputed from the file's own figures."""
    import json

    def load(name):
        return json.loads((ROOT / 'benchmarks' / 'results' / f'{name}.json').read_text())
    sw = load('sliding_window')
    timed = [r for r in sw['decomposed']['rows'] if 'peak_rss_mb' in r]  # not the bf16 one
    assert timed[0]['row'] == 'mmseg' and len(timed) == 4
    for row in timed:
        assert row['vs_mmseg'] == pytest.approx(timed[0]['seconds'] / row['seconds'], abs=2e-3)
    assert sw['auto']['ratio'] == pytest.approx(sw['auto']['baseline'] / sw['auto']['ours'],
                                                abs=2e-3)
    assert sw['pure_forward']['ratio'] == pytest.approx(
        sw['pure_forward']['ours'] / sw['pure_forward']['baseline'], abs=2e-3)
    tta = load('tta')
    assert tta['ratio'] == pytest.approx(tta['ours'] / tta['baseline'], abs=2e-2)
    onnx = load('onnx_runtime')
    for line in (onnx['fp32'], onnx['default_precision']):
        assert line['ratio'] == pytest.approx(line['ours'] / line['baseline'], abs=2e-3)
    demo = load('demo_baselines')
    assert demo['baseline'] == max(demo['baselines'].values())
    assert demo['ratio'] == pytest.approx(demo['ours'] / demo['baseline'], abs=2e-3)
    for name in ('predict_scale_memory', 'sliding_window_scale'):
        mem = load(name)
        assert mem['ratio'] == pytest.approx(mem['ours'] / mem['baseline'], abs=2e-3)
    # rates rounded to 2-4 digits, ratios computed before the rounding
    for line in (load('train_throughput'), load('ddp_scaling'), load('raster_loader'),
                 load('augment_presets')['speed']):
        assert line['ratio'] == pytest.approx(line['ours'] / line['baseline'], rel=5e-3)
    augment = load('augment_presets')
    for name, rate in augment['speed']['presets_images_per_s'].items():
        assert augment['speed']['ratios'][name] == pytest.approx(
            rate / augment['speed']['baseline'], rel=5e-3, abs=1e-2)
    if augment['quality']:
        q = augment['quality']
        assert q['ratio'] == pytest.approx(q['ours'] / q['baseline'], abs=2e-3)
    throughput = load('train_throughput')
    assert throughput['ours'] == pytest.approx(statistics.median(throughput['runs']['altair']),
                                               abs=1e-4)


def test_the_ratios_of_the_quality_files_are_their_figures():
    """The SSL rows' ratios, means and chosen settings, the bf16 agreement's ratio, the model
    zoo's ratios to its best baseline, the scene's and the rare-class recipes' ratios and
    points, recomputed from each file's own figures."""
    import json

    def load(name):
        return json.loads((ROOT / 'benchmarks' / 'results' / f'{name}.json').read_text())
    for row in load('precision_agreement')['rows']:
        # seconds rounded to 0.01, the ratio computed before the rounding
        assert row['ratio'] == pytest.approx(row['seconds'] / row['baseline_seconds'], rel=1e-2)
        assert 0 < row['label_agreement'] <= 1
    ssl = _script('ssl_transfer')
    for row in load('ssl_transfer')['rows']:
        for side, seeds in (('ours', row['ours_seeds']), ('baseline', row['baseline_seeds'])):
            assert len(seeds) == 3 and row[side] == pytest.approx(statistics.mean(seeds),
                                                                  abs=1e-2)
        assert row['ratio'] == pytest.approx(row['ours'] / row['baseline'], abs=2e-3)
        for side, chosen in row['search']['chosen'].items():
            grid = {tuple(float(v) for v in k.split('/')): score
                    for k, score in row['search'][side].items()}
            assert len(grid) == 6 and tuple(chosen) == ssl.best_setting(grid)
    for row in load('model_zoo')['rows']:
        assert row['best_baseline'] == max(row['baselines'], key=row['baselines'].get)
        assert row['ratio'] == pytest.approx(row['mIoU'] / row['baselines'][row['best_baseline']],
                                             abs=1e-3)
        assert set(row['tta_mIoU']) == {'none', 'hflip', 'd4'}
    scene = load('bluemarble_scene')
    # ours is rounded to 0.01 after the ratio and the points were computed
    assert scene['ratio'] == pytest.approx(scene['ours'] / scene['baseline'], abs=2e-3)
    assert scene['points'] == pytest.approx(scene['ours'] - scene['baseline'], abs=1e-2)
    zoo = {row['run']: row for row in load('model_zoo')['rows']}
    for run in set(scene['reused_runs']) & set(zoo):  # the zoo's demo as the tiled baseline
        assert scene['baseline'] == pytest.approx(zoo[run]['mIoU'], abs=1e-2)
    rows = {r['name']: r for r in load('imbalance')['rows']}
    plain = rows['imbalance_ce']
    for row in rows.values():
        assert row['ours'] == pytest.approx(
            statistics.mean(row['iou'][c] for c in row['rare_classes']), abs=1e-2)
        assert row['baseline'] == plain['ours'] and row['baseline_mIoU'] == plain['mIoU']
        assert row['points'] == pytest.approx(row['ours'] - row['baseline'], abs=1e-2)
        if row['baseline'] >= 1:  # the ratio to a baseline near 0 says nothing
            assert row['ratio'] == pytest.approx(row['ours'] / row['baseline'], rel=1e-2)


def test_tables_rewrites_a_stale_block_and_nothing_else():
    tables = _script('tables')
    text = ('before\n<!-- recipe_speed: made by ... -->\nold table\n<!-- /recipe_speed -->\n'
            'after <!-- other: x -->\nkept\n<!-- /other -->\n')
    assert tables.regenerate(text) == text.replace('old table', tables.recipe_speed())
    assert tables.regenerate(tables.regenerate(text)) == tables.regenerate(text)


def _module(name: str):
    """The module ``name``, or None where there is none of that name."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _altair_references(path: Path):
    """(line, module, name) of every Altair name a script uses: ``from altair.x import n``
    and ``m.n`` where ``m`` is an Altair module imported under a name (function bodies too)."""
    import ast
    tree = ast.parse(path.read_text())
    modules, out = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('altair'):
            for a in node.names:
                out.append((node.lineno, node.module, a.name))
                if _module(f'{node.module}.{a.name}') is not None:
                    modules[a.asname or a.name] = f'{node.module}.{a.name}'
        elif isinstance(node, ast.Import):
            modules.update({a.asname: a.name for a in node.names
                            if a.name.startswith('altair') and a.asname})
    out += [(node.lineno, modules[node.value.id], node.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in modules]
    return out


@pytest.mark.parametrize('path', [p for d in ('benchmarks', 'scripts', 'tools')
                                  for p in sorted((ROOT / d).glob('*.py'))],
                         ids=lambda p: f'{p.parent.name}/{p.name}')
def test_every_altair_name_a_script_uses_exists(path):
    """The scripts run outside the suite: a name that moved in the package fails here, not
    an hour into a benchmark."""
    missing = [f'{path.name}:{line}: {module}.{name}'
               for line, module, name in _altair_references(path)
               if not hasattr(_module(module), name) and _module(f'{module}.{name}') is None]
    assert not missing, missing


def test_a_zoo_row_is_the_demo_summary_with_its_ratio_to_the_best_baseline():
    summary = dict(config='configs/pspnet.py', run='r', train_seconds=516.0,
                   total_seconds=546.0, mIoU=45.0, aAcc=80.7, per_class_iou={'water': 93.4},
                   baselines={'majority_class': 6.41, 'nearest_class_mean': 36.5},
                   ratio_to_best_baseline=1.233, globe_pixel_accuracy=87.05)
    row = _script('model_zoo').zoo_row(summary)
    assert row['best_baseline'] == 'nearest_class_mean' and row['ratio'] == round(45 / 36.5, 3)
    assert (row['train_minutes'], row['demo_minutes']) == (8.6, 9.1)
    assert row['per_class_iou'] == {'water': 93.4} and row['config'] == 'configs/pspnet.py'


def test_write_row_replaces_the_row_of_its_key_and_keeps_the_others(tmp_path, monkeypatch):
    import json
    results = _script('results')
    monkeypatch.setattr(results, 'RESULTS', tmp_path)
    commits = iter(['aaa', 'bbb', 'ccc'])
    monkeypatch.setattr(results, 'stamp', lambda: dict(commit=next(commits)))
    results.write_row('x', dict(name='mae_10', ours=1.0), key='name')
    results.write_row('x', dict(name='mae_100', ours=2.0), key='name')
    path = results.write_row('x', dict(name='mae_10', ours=3.0), key='name')
    data = json.loads(path.read_text())
    assert data == dict(commit='ccc', rows=[dict(name='mae_10', ours=3.0, commit='ccc'),
                                            dict(name='mae_100', ours=2.0, commit='bbb')])


def test_write_row_keys_on_several_fields_keeps_the_rows_own_fields_and_sorts(
        tmp_path, monkeypatch):
    import json
    results = _script('results')
    own_data = _script('own_data')
    monkeypatch.setattr(results, 'RESULTS', tmp_path)
    monkeypatch.setattr(results, 'stamp', lambda: dict(commit='abc', command='python x.py'))
    for dataset, seed, score in (('l7_water', 1, 1.0), ('nuclei', 0, 2.0), ('l7_water', 0, 3.0),
                                 ('l7_water', 1, 4.0), ('extra', 0, 5.0)):
        path = results.write_row('panel', dict(dataset=dataset, seed=seed, score=score,
                                               command=f'run {dataset} {seed}'),
                                 key=('dataset', 'seed'), order=own_data.panel_order)
    rows = json.loads(path.read_text())['rows']
    assert [(r['dataset'], r['seed'], r['score']) for r in rows] == [
        ('nuclei', 0, 2.0), ('l7_water', 0, 3.0), ('l7_water', 1, 4.0), ('extra', 0, 5.0)]
    assert rows[0]['command'] == 'run nuclei 0' and rows[0]['commit'] == 'abc'


def test_the_commit_is_dirty_for_changed_code_not_for_results_files(tmp_path, monkeypatch):
    import subprocess
    results = _script('results')
    monkeypatch.setattr(results, 'ROOT', tmp_path)

    def git(*args):
        return subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', *args],
                              cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()
    git('init', '-q')
    (tmp_path / 'benchmarks' / 'results').mkdir(parents=True)
    (tmp_path / 'benchmarks' / 'results' / 'a.json').write_text('{}')
    (tmp_path / 'code.py').write_text('1')
    git('add', '-A')
    git('commit', '-qm', 'one')
    head = git('rev-parse', '--short', 'HEAD')
    (tmp_path / 'benchmarks' / 'results' / 'a.json').write_text('{"x": 1}')  # a first result
    assert results.commit() == head
    (tmp_path / 'code.py').write_text('2')
    assert results.commit() == head + '+dirty'


def test_changed_since_names_the_later_commits_that_touch_the_sources(tmp_path):
    import subprocess
    results = _script('results')

    def git(*args):
        return subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', *args],
                              cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()
    git('init', '-q')
    (tmp_path / 'pkg').mkdir()
    commits = []
    for name, text in [('pkg/a.py', '1'), ('pkg/a.py', '2'), ('b.py', '1')]:
        (tmp_path / name).write_text(text)
        git('add', '-A')
        git('commit', '-qm', name)
        commits.append(git('rev-parse', '--short', 'HEAD'))
    first, second, third = commits
    assert results.changed_since(first, ['pkg/'], root=tmp_path) == [second]
    assert results.changed_since(first + '+dirty', ['b.py', 'pkg/a.py'],
                                 root=tmp_path) == [third, second]
    assert results.changed_since(second, ['pkg/'], root=tmp_path) == []
    assert results.changed_since('0000000', ['pkg/'], root=tmp_path) == [
        'unknown commit 0000000']
    # a folder less a file: pkg/a.py's commits do not count for it, and only for it
    assert results.changed_since(first, [('pkg/', 'pkg/a.py')], root=tmp_path) == []
    assert results.changed_since(first, ['b.py', ('pkg/', 'pkg/a.py')],
                                 root=tmp_path) == [third]
    assert results.changed_since(first, [('pkg/', 'pkg/a.py'), 'pkg/a.py'],
                                 root=tmp_path) == [second]


# Results files measured before a later change to their sources: each must be measured again
# (and leave this set) before the docs can call its numbers current.
AWAITING_RERUN: set[str] = set()


def test_results_files_are_not_older_than_the_code_they_measure():
    """Every results file has its sources listed, and the files measured before a later
    commit to those sources are exactly AWAITING_RERUN."""
    results = _script('results')
    names = {p.name for p in results.RESULTS.glob('*.json')}
    assert {f'{n}.json' for n in results.SOURCES} >= names
    for paths in results.SOURCES.values():
        named = [q for p in paths for q in ([p] if isinstance(p, str) else p)]
        assert all((ROOT / p).exists() for p in named), paths
    stale = {label.split('[', 1)[0] for label in results.stale_results()}
    assert stale == AWAITING_RERUN


def test_the_stamped_command_names_the_script_from_the_checkout_root(monkeypatch):
    results = _script('results')
    monkeypatch.setattr(results, 'machine', lambda: {})
    monkeypatch.setattr(results, 'commit', lambda: 'abc')
    monkeypatch.setattr(sys, 'argv', [str(results.ROOT / 'benchmarks' / 'tta.py'), '--reps', '3'])
    assert results.stamp()['command'].split(' ', 1)[1] == 'benchmarks/tta.py --reps 3'
    monkeypatch.setattr(sys, 'argv', ['/elsewhere/x.py'])
    assert results.stamp()['command'].endswith(' /elsewhere/x.py')
