"""The README's Python API block runs as written (training shortened to 2 iterations)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def readme_api_block() -> str:
    text = (ROOT / 'README.md').read_text()
    section = text[text.index('### Python API'):]
    return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def test_readme_python_api_block_runs(small_bluemarble, tiny, tmp_path, monkeypatch):
    """The block as written, on the real data with fewer val tiles and a cut of the globe."""
    import altair.api.train

    train = altair.api.train.train

    def short_train(config, **kwargs):
        return train(config, **{**kwargs, 'cfg_options': tiny.options(small_bluemarble)})
    monkeypatch.setattr(altair.api.train, 'train', short_train)
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'bluemarble').symlink_to(small_bluemarble)
    (tmp_path / 'configs').symlink_to(ROOT / 'configs')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('ALTAIR_HOME', str(tmp_path / 'home'))
    printed = []
    exec(compile(readme_api_block(), 'README.md', 'exec'), {'print': lambda *a: printed.append(a)})
    (run_id, status, best), (listed_id, listed_status, miou) = printed[:2]
    assert (status, listed_id, listed_status) == ('finished', run_id, 'finished')
    assert best.name == 'best_mIoU_iter_2.pth' and 0 <= miou <= 100
    assert printed[2][0] == miou  # test split == val split in this config
    source, shape, overlay = printed[3]
    assert source.name == 'r00_c14.png' and shape == (300, 300) and overlay.is_file()
    shape, labels = printed[4]
    assert shape == (768, 1536) and labels.name == 'bluemarble_rgb_labels.tif'
    assert (tmp_path / 'home' / 'runs' / run_id / 'predictions' / 'r01_c02_overlay.png').is_file()


def test_make_bench_runs_every_benchmark_the_readme_lists():
    """`make bench` runs every script of benchmarks/ with a main() (gpu_suite.py needs a GPU:
    `make bench-gpu`), and the README's Benchmarks section names exactly those."""
    root = Path(__file__).resolve().parents[1]
    make = (root / 'Makefile').read_text()
    recipes = dict(re.findall(r'^([\w-]+):[^\n]*\n((?:\t[^\n]*\n)*)', make, re.M))
    deps = re.search(r'^bench:(.*)$', make, re.M).group(1).split()
    ran = set(re.findall(r'benchmarks/(\w+\.py)', ''.join(recipes[d] for d in deps)))
    scripts = {p.name for p in (root / 'benchmarks').glob('*.py')
               if 'def main(' in p.read_text() and p.name != 'gpu_suite.py'}
    assert ran == scripts
    section = (root / 'README.md').read_text().split('\n## Benchmarks', 1)[1].split('\n## ', 1)[0]
    assert set(re.findall(r'benchmarks/(\w+\.py)', section)) - {'gpu_suite.py'} == ran
