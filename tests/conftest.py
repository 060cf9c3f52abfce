"""Shared fixtures: a real Blue Marble build (once per session) and a repo-root cwd."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def bluemarble(tmp_path_factory) -> Path:
    """The real dataset built from the installed data packages into a temporary folder."""
    from altair.datasets.bluemarble_build import build_bluemarble
    out = tmp_path_factory.mktemp('data') / 'bluemarble'
    build_bluemarble(out, progress=False)
    return out


@pytest.fixture(scope='session', autouse=True)
def runs_home(tmp_path_factory) -> Path:
    """Keep every run the tests make (in-process or in subprocesses) out of ./runs."""
    home = tmp_path_factory.mktemp('altair_home')
    os.environ['ALTAIR_HOME'] = str(home)
    return home


@pytest.fixture
def fresh_plugins(monkeypatch):
    """Forget which plugins were loaded; afterwards unregister what the test's own plugins
    registered (not the libraries' components a lazy import registered meanwhile)."""
    from altair import plugins
    monkeypatch.setattr(plugins, '_loaded', set())
    monkeypatch.setattr(plugins, '_done', False)
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    before = {id(r): set(r.module_dict) for r in plugins.all_registries()}
    yield
    libraries = {'altair', 'mmseg', 'mmengine', 'mmcv', 'mmpretrain', 'torch', 'projects'}
    for reg in plugins.all_registries():
        for name in set(reg.module_dict) - before.get(id(reg), set()):
            module = getattr(reg.module_dict[name], '__module__', '') or ''
            if module.split('.')[0] not in libraries:
                del reg._module_dict[name]


@pytest.fixture
def in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    return ROOT


def pytest_collection_modifyitems(config, items):
    # keep CUDA-only tests out where there is no GPU
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs CUDA')
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip)


os.environ.setdefault('OMP_NUM_THREADS', '2')
