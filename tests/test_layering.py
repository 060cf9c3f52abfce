"""The import direction of DESIGN.md, read from the source (every import statement, those
inside functions included): the packages below ``altair.api`` never import it or the CLI,
``altair.config`` needs nothing of Altair's but the registry and the errors, and files are
renamed into place only by ``altair.fileio``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'altair'
LOWER = ('engine', 'datasets', 'models', 'inference', 'evaluation', 'visualization')
# modules beside the packages that the lower packages (or plugins) import
LOWER_MODULES = ('config.py', 'config_data.py', 'errors.py', 'fileio.py', 'registry.py',
                 'plugins.py', 'testing.py', 'version.py')


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f'{path}: relative import (DESIGN.md: absolute only)'
            out.add(node.module)
            out.update(f'{node.module}.{alias.name}' for alias in node.names)
    return out


def _lower_files() -> list[Path]:
    files = [PACKAGE / name for name in LOWER_MODULES]
    for package in LOWER:
        files += sorted((PACKAGE / package).rglob('*.py'))
    return files


def test_the_sweep_sees_the_lower_packages():
    files = _lower_files()
    assert all(f.is_file() for f in files)
    assert len(files) > 60  # every package's modules, not an empty glob


def test_an_import_inside_a_function_is_seen(tmp_path):
    probe = tmp_path / 'probe.py'
    probe.write_text('import os\n\ndef f():\n    from altair.api.runs import write_json\n')
    assert imported_modules(probe) == {'os', 'altair.api.runs', 'altair.api.runs.write_json'}
    assert _api_or_cli(imported_modules(probe)) == ['altair.api.runs',
                                                    'altair.api.runs.write_json']


def _api_or_cli(modules) -> list[str]:
    return sorted(m for m in modules
                  if m in ('altair.api', 'altair.cli') or m.startswith(('altair.api.',
                                                                        'altair.cli.')))


@pytest.mark.parametrize('path', _lower_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lower_packages_never_import_the_api_or_the_cli(path):
    bad = _api_or_cli(imported_modules(path))
    assert not bad, f'{path.relative_to(PACKAGE.parent)} imports {bad}'


def test_config_imports_only_the_registry_and_the_errors():
    ours = {m.split('.')[1] for m in imported_modules(PACKAGE / 'config.py')
            if m.startswith('altair.')}
    assert ours == {'registry', 'errors'}


def test_config_data_imports_only_the_errors_and_the_plugin_list():
    ours = {m.split('.')[1] for m in imported_modules(PACKAGE / 'config_data.py')
            if m.startswith('altair.')}
    assert ours == {'errors', 'plugins'}


def test_only_fileio_renames_files_into_place():
    """``os.replace`` / ``os.rename`` / ``Path.rename`` / ``Path.replace`` appear in
    ``altair/fileio.py`` alone: every other writer goes through ``atomic_write`` or
    ``commit`` (one temporary name, one clean-up)."""
    offenders = []
    for path in sorted(PACKAGE.rglob('*.py')):
        if path.name == 'fileio.py':
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ('replace', 'rename')
                    and _renames(node)):
                offenders.append(f'{path.relative_to(PACKAGE.parent)}:{node.lineno}')
    assert not offenders, offenders


def _renames(call: ast.Call) -> bool:
    """``os.replace(a, b)`` / ``os.rename(a, b)``, or ``<path>.rename(b)`` /
    ``<path>.replace(b)`` with one argument that is not a string (``str.replace`` takes
    two)."""
    func = call.func
    if isinstance(func.value, ast.Name) and func.value.id == 'os':
        return True
    return func.attr == 'rename' or (len(call.args) == 1 and not call.keywords
                                     and not isinstance(call.args[0], ast.Constant))
