"""Shared fixtures: a real Blue Marble build (once per session) and a repo-root cwd."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def full_bluemarble(tmp_path_factory) -> Path:
    """The real dataset built from the installed data packages into a temporary folder."""
    from altair.datasets.bluemarble_build import build_bluemarble
    out = tmp_path_factory.mktemp('data') / 'bluemarble'
    build_bluemarble(out, progress=False)
    return out


@pytest.fixture(scope='session')
def bluemarble(full_bluemarble) -> Path:
    """The whole dataset (modules whose runs only check the flow override this with
    :func:`small_bluemarble`)."""
    return full_bluemarble


@pytest.fixture(scope='session')
def small_bluemarble(full_bluemarble, tmp_path_factory) -> Path:
    """The real dataset with its first 3 val tiles and a 1536x768 cut of the globe rasters
    (real pixels and georeference, 8 windows of 512 instead of 98) for the end-to-end tests
    whose subject is the flow, not the size: the train tiles and meta.json are the full set's."""
    import rasterio
    from rasterio.windows import Window
    out = tmp_path_factory.mktemp('data') / 'bluemarble'
    out.mkdir()
    (out / 'meta.json').symlink_to(full_bluemarble / 'meta.json')
    for kind in ('img_dir', 'ann_dir'):
        (out / kind).mkdir()
        (out / kind / 'train').symlink_to(full_bluemarble / kind / 'train')
        (out / kind / 'val').mkdir()
        for tile in sorted((full_bluemarble / kind / 'val').iterdir())[:3]:  # an odd count
            (out / kind / 'val' / tile.name).symlink_to(tile)
    win = Window(1536, 512, 1536, 768)  # the Atlantic, Caribbean to Europe and the Sahara
    for name in ('bluemarble_rgb.tif', 'bluemarble_labels.tif'):
        with rasterio.open(full_bluemarble / name) as src:
            profile = dict(src.profile, width=win.width, height=win.height,
                           transform=src.window_transform(win))
            with rasterio.open(out / name, 'w', **profile) as dst:
                dst.write(src.read(window=win))
    return out


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """Random weights of configs/pspnet.py saved as an mmengine-style checkpoint."""
    import torch
    from mmengine.registry import DefaultScope

    from altair.config import load_config
    from altair.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config(ROOT / 'configs/pspnet.py').model)
    path = tmp_path_factory.mktemp('ckpt') / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture
def cli(capsys, monkeypatch):
    """``altair ARGS...`` run in this process from the repo root: a
    ``subprocess.CompletedProcess`` with the exit status, stdout and stderr (warnings
    included, as Python prints them). No interpreter start-up and imports per call (5-10 s
    each); the process-level path itself is checked by tests/test_e2e.py's subprocesses."""
    import logging
    import subprocess
    import sys
    import warnings

    from altair.cli import main
    monkeypatch.chdir(ROOT)

    def run(*args):
        log = logging.getLogger('altair')
        handlers, log.handlers = log.handlers, []  # main adds one on this test's stderr
        capsys.readouterr()
        with warnings.catch_warnings():
            # Python's own defaults (pytest's differ), printed where they happen
            warnings.resetwarnings()
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                             ResourceWarning):
                warnings.simplefilter('ignore', category)
            warnings.showwarning = lambda message, category, filename, lineno, file=None, \
                line=None: sys.stderr.write(warnings.formatwarning(message, category,
                                                                   filename, lineno, line))
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
            finally:  # main's handler holds this test's captured stream: put the old back
                log.handlers = handlers
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)
    return run


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
    from altair import introspect, plugins
    monkeypatch.setattr(plugins, '_loaded', set())
    monkeypatch.setattr(plugins, '_done', False)
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    before = {id(r): set(r.module_dict) for r in introspect.all_registries()}
    yield
    libraries = {'altair', 'mmseg', 'mmengine', 'mmcv', 'mmpretrain', 'torch', 'projects'}
    for reg in introspect.all_registries():
        for name in set(reg.module_dict) - before.get(id(reg), set()):
            module = getattr(reg.module_dict[name], '__module__', '') or ''
            if module.split('.')[0] not in libraries:
                del reg._module_dict[name]


class TinyTraining:
    """``cfg_options`` for the tests' short training runs, in one place: a few iterations of a
    config, in-process data loading (no worker processes), the tests' data root."""

    @staticmethod
    def loaders(data_root: str | os.PathLike | None = None,
                splits: tuple[str, ...] = ('train', 'val', 'test')) -> dict:
        """Each split's loader without worker processes (and on ``data_root`` if given)."""
        opts = {}
        for split in splits:
            opts.update({f'{split}_dataloader.num_workers': 0,
                         f'{split}_dataloader.persistent_workers': False})
            if data_root is not None:
                opts[f'{split}_dataloader.dataset.data_root'] = str(data_root)
        return opts

    @classmethod
    def options(cls, data_root: str | os.PathLike | None = None, *, iters: int = 2,
                batch: int = 2, splits: tuple[str, ...] = ('train', 'val', 'test')) -> dict:
        """``iters`` iterations of ``batch`` samples, validated and checkpointed at the end,
        a log line per iteration."""
        return dict(cls.loaders(data_root, splits), **{
            'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters,
            'default_hooks.checkpoint.interval': iters, 'default_hooks.logger.interval': 1,
            'train_dataloader.batch_size': batch})

    @staticmethod
    def cli(opts: dict) -> list[str]:
        """The same options as command-line arguments (``--cfg-options k=v ...``)."""
        return ['--cfg-options', *(f'{k}={v}' for k, v in opts.items())]


@pytest.fixture(scope='session')
def tiny() -> TinyTraining:
    """Options of a tiny training run (see :class:`TinyTraining`)."""
    return TinyTraining()


@pytest.fixture
def in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    return ROOT


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    # an `extended` check is a slow one too (`make test-fast` skips it as well)
    for item in items:
        if 'extended' in item.keywords and 'slow' not in item.keywords:
            item.add_marker(pytest.mark.slow)
    # keep CUDA-only tests out where there is no GPU
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs CUDA')
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip)


os.environ.setdefault('OMP_NUM_THREADS', '2')
# Predictions batch as before the probe (4 windows, TTA views in pairs on the CPU): the
# tests' references assume those batches, and a probe per test would cost seconds. The probe
# itself is tested with this switched back on (tests/inference/test_autotune.py, and the
# predict and TTA-model tests of the probe).
os.environ.setdefault('ALTAIR_BATCH_PROBE', '0')
