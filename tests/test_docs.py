"""The documentation: the Python API guide's block runs as written (training shortened to 2
iterations), the command-line reference is the parser's, the benchmarks page names what
`make bench` runs."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'


def api_guide_block() -> str:
    text = (DOCS / 'guides' / 'python-api.md').read_text()
    return re.search(r'```python\n(.*?)```', text, re.S).group(1)


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_the_parsers():
    """docs/reference/cli.md is what tools/cli_reference.py makes of today's parser."""
    from altair.cli_parser import build_parser
    ref = _tool('cli_reference')
    assert ref.PAGE.read_text() == ref.render(build_parser()), \
        'docs/reference/cli.md is stale: run python tools/cli_reference.py'


def test_the_cli_reference_shows_every_option_once_per_command():
    """Each visible option of each command is one row, under all its names; a hidden
    deprecated name is listed only under 'Deprecated names'."""
    import argparse

    from altair.cli_parser import build_parser
    text = _tool('cli_reference').render(build_parser())
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        section = text.split(f'\n## altair {name}\n', 1)[1].split('\n## ', 1)[0]
        for action in parser._actions:
            if (action.help == argparse.SUPPRESS or not action.option_strings
                    or isinstance(action, argparse._HelpAction)):
                continue
            first = f'`{action.option_strings[0]}`'
            assert sum(line.startswith(f'| {first}') for line in section.splitlines()) == 1
    deprecated = text.split('\n## Deprecated names\n', 1)[1]
    assert '| `altair train` | `--amp` | `--precision` |' in deprecated
    assert '`--amp`' not in text.split('\n## Deprecated names\n', 1)[0]


@pytest.mark.slow
def test_the_api_guide_block_runs(small_bluemarble, tiny, tmp_path, monkeypatch):
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
    exec(compile(api_guide_block(), 'docs/guides/python-api.md', 'exec'),
         {'print': lambda *a: printed.append(a)})
    (run_id, status, best), (listed_id, listed_status, miou) = printed[:2]
    assert (status, listed_id, listed_status) == ('finished', run_id, 'finished')
    assert best.name == 'best_mIoU_iter_2.pth' and 0 <= miou <= 100
    assert printed[2][0] == miou  # test split == val split in this config
    source, shape, overlay = printed[3]
    assert source.name == 'r00_c14.png' and shape == (300, 300) and overlay.is_file()
    shape, labels = printed[4]
    assert shape == (768, 1536) and labels.name == 'bluemarble_rgb_labels.tif'
    assert (tmp_path / 'home' / 'runs' / run_id / 'predictions' / 'r01_c02_overlay.png').is_file()


def test_make_bench_runs_every_benchmark_and_each_has_its_page():
    """`make bench` runs every script of benchmarks/ with a main() (gpu_suite.py needs a GPU:
    `make bench-gpu`; tables.py makes the docs' tables); each of those, gpu_suite.py included,
    has one page docs/benchmarks/<script>.md, listed in the overview and in the site's nav,
    and every generated table is on one of those pages."""
    root = Path(__file__).resolve().parents[1]
    make = (root / 'Makefile').read_text()
    recipes = dict(re.findall(r'^([\w-]+):[^\n]*\n((?:\t[^\n]*\n)*)', make, re.M))
    heads = dict(re.findall(r'^([\w-]+):([^\n]*)$', make, re.M))

    def run_by(target):  # the recipe lines of a target and of the targets it depends on
        deps = [d for d in heads.get(target, '').split() if d in heads]
        return recipes.get(target, '') + ''.join(run_by(d) for d in deps)
    ran = set(re.findall(r'benchmarks/(\w+\.py)', run_by('bench')))
    assert set(re.findall(r'benchmarks/(\w+\.py)', run_by('bench-speed') + run_by(
        'bench-quality'))) == ran
    scripts = {p.name for p in (root / 'benchmarks').glob('*.py')
               if 'def main(' in p.read_text()
               and p.name not in ('gpu_suite.py', 'tables.py')}  # tables.py measures nothing
    assert ran == scripts
    folder = DOCS / 'benchmarks'
    pages = {p.stem: p.read_text() for p in folder.glob('*.md') if p.stem != 'index'}
    assert set(pages) == {Path(s).stem for s in ran | {'gpu_suite.py'}}
    overview = (folder / 'index.md').read_text()
    nav = (root / 'mkdocs.yml').read_text()
    for stem, text in pages.items():
        assert f'`benchmarks/{stem}.py`' in text, stem
        assert f']({stem}.md)' in overview and f'benchmarks/{stem}.md' in nav, stem
    from benchmarks.tables import TABLES
    shown = {m for text in pages.values() for m in re.findall(r'<!-- (\w+): made by', text)}
    assert shown == set(TABLES)


def test_the_environment_page_names_every_variable_altair_reads():
    """Every ``ALTAIR_*`` name in the package and the install script is on the page."""
    sources = [*(ROOT / 'altair').rglob('*.py'), ROOT / 'scripts' / 'install.sh']
    used = {m for p in sources for m in re.findall(r'ALTAIR_[A-Z_]+[A-Z]', p.read_text())}
    page = (DOCS / 'reference' / 'environment.md').read_text()
    assert used and {v for v in used if f'`{v}`' not in page} == set()


def test_the_formats_page_lists_every_suffix_altair_reads():
    from altair.raster import formats
    page = (DOCS / 'reference' / 'formats.md').read_text()
    suffixes = {s for name in dir(formats) if name.endswith('_SUFFIXES')
                for s in getattr(formats, name)}
    assert len(suffixes) > 15 and {s for s in suffixes if f'`{s}`' not in page} == set()


def test_the_config_keys_page_names_every_key_altair_reads():
    """Every top-level key of ``READ_KEYS`` and every key of the shorthand sections."""
    from altair.config import FORMER_LEAVES, READ_KEYS, SECTIONS
    page = (DOCS / 'reference' / 'config-keys.md').read_text()
    keys = set(READ_KEYS) | {k for leaves in (*SECTIONS.values(), *FORMER_LEAVES.values())
                             for k in leaves}
    assert len(keys) > 30 and {k for k in keys if f'`{k}`' not in page} == set()
