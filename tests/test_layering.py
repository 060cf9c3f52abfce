"""The import order of ../shared/DESIGN.md, read from the source: every import statement,
those inside functions included, of every module of the package.

A module imports only modules of its own package or of packages in lower layers; the
graph of all imports has no cycle; no private name (``_x``) is imported from another
module. Files are renamed into place only by ``altair.fileio``.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'altair'
# lowest first; a module may import from its own layer's package and from lower layers only
LAYERS = [
    ('errors', 'version', 'shipped'),
    ('fileio', 'plugins'),
    ('registry',),
    ('config', 'config_data', 'introspect'),
    ('config_checks',),
    ('raster',),
    ('inference', 'evaluation', 'visualization'),
    ('engine',),
    ('models', 'datasets'),
    ('prediction',),
    ('api', 'testing'),
    ('cli_parser',),
    ('cli',),
    ('__main__', '__init__'),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def unit(module: str) -> str:
    """The layer unit of a module: its top-level package or module below ``altair``
    (``altair`` itself is its ``__init__``)."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else '__init__'


def resolve(name: str) -> str | None:
    """The Altair module ``name`` (a module, or a name in one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition('.')[0]
    return name or None


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) of every import statement of ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f'{path}:{node.lineno}: relative import (absolute only)'
            out.append((node.lineno, node.module, [a.name for a in node.names]))
    return out


def edges() -> dict[str, set[str]]:
    """Module → the Altair modules it imports (``from a import b`` where ``b`` is a module
    gives ``a.b``)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for _, module, names in imports(path):
            if not module.startswith('altair'):
                continue
            targets = [resolve(f'{module}.{n}') for n in names] or [resolve(module)]
            graph[name].update(t for t in targets if t and t != name)
    return graph


def test_every_package_has_a_layer():
    assert len(MODULES) > 100
    assert {unit(m) for m in MODULES} <= set(RANK), {unit(m) for m in MODULES} - set(RANK)


def test_imports_follow_the_layers():
    bad = []
    for name, targets in edges().items():
        for target in targets:
            if unit(target) != unit(name) and RANK[unit(target)] >= RANK[unit(name)]:
                bad.append(f'{name} imports {target}')
    assert not bad, bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))
    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle():
    assert cycles(edges()) == []


def test_the_checks_see_what_they_check(tmp_path):
    """A cycle and an import against the order are found (so the tests above can fail)."""
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
    probe = tmp_path / 'probe.py'
    probe.write_text('import os\n\ndef f():\n    from altair.api.runs import write_json\n')
    assert imports(probe) == [(1, 'os', []), (4, 'altair.api.runs', ['write_json'])]
    assert resolve('altair.api.runs.write_json') == 'altair.api.runs'
    assert RANK[unit('altair.api.runs')] > RANK[unit('altair.raster.read')]


def test_no_private_name_is_imported_from_another_module():
    bad = [f'{name}:{line} imports {n} from {module}'
           for name, path in MODULES.items() for line, module, names in imports(path)
           if module.startswith('altair') for n in names
           if n.startswith('_') and not n.startswith('__')]
    assert not bad, bad


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


# sizes a reader can hold (issue #35): lines of a module, and of a function with its docstring
MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_PREDICT_API_LINES = 450, 80, 250
LONG_FUNCTIONS = {('altair.cli_parser', 'build_parser')}  # one argparse call per option


def test_modules_and_functions_stay_small():
    long = []
    for name, path in MODULES.items():
        source = path.read_text()
        if source.count('\n') > MAX_MODULE_LINES:
            long.append(f'{name}: {source.count(chr(10))} lines')
        long += [f'{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines'
                 for node in ast.walk(ast.parse(source))
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
                 and (name, node.name) not in LONG_FUNCTIONS]
    assert not long, long
    assert MODULES['altair.api.predict'].read_text().count('\n') <= MAX_PREDICT_API_LINES
