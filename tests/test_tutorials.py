"""The tutorials run as written: every ```bash block of a page of docs/tutorials/, in order, in
one bash process (``set -euo pipefail``) in a scratch folder laid out as the checkout (its
.venv, configs, tools, benchmarks and projects linked in). The one change: `altair init`
gets ``--iters 2`` (the page's budget, minutes of training, is not a test's), as the pages say.
Each test then checks what the page says the commands leave behind."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

TUTORIALS = ROOT / 'docs' / 'tutorials'
BLOCK = re.compile(r'^```bash\n(.*?)^```$', re.M | re.S)
LINKED = ('.venv', 'configs', 'tools', 'benchmarks', 'projects')


def page_script(page: str) -> str:
    """The ```bash blocks of a tutorial, in page order, as one script."""
    return '\n'.join(BLOCK.findall((TUTORIALS / page).read_text()))


def shortened(script: str) -> str:
    """``script`` with ``--iters 2`` after each ``altair init`` that gives no length."""
    return re.sub(r'^altair init\b(?![^\n]*--(iters|time)\b)', 'altair init --iters 2', script,
                  flags=re.M)


def run_page(page: str, workdir: Path) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        if not (workdir / name).exists():
            (workdir / name).symlink_to(ROOT / name)
    script = 'set -euo pipefail\n' + shortened(page_script(page))
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'ALTAIR_HOME')}
    proc = subprocess.run(['bash', '-c', script], cwd=workdir, capture_output=True, text=True,
                          timeout=900, env={**env, 'OMP_NUM_THREADS': '2'})
    assert proc.returncode == 0, (f'{page}: exit {proc.returncode}\n' + proc.stdout[-3000:]
                                  + proc.stderr[-5000:])
    return proc


def test_every_tutorial_has_commands_and_the_suite_runs_each():
    pages = sorted(p.name for p in TUTORIALS.glob('*.md'))
    assert pages and all(page_script(p).strip() for p in pages)
    tested = {'own-data.md', 'huge-scene.md', 'medical-volumes.md', 'plugin.md'}
    assert set(pages) == tested


def test_shortening_touches_only_init_without_a_length():
    assert shortened('altair init l7 --crop 64  # a comment') == \
        'altair init --iters 2 l7 --crop 64  # a comment'
    assert shortened('altair init l7 --time 30m') == 'altair init l7 --time 30m'
    assert shortened('altair train l7/altair_config.py') == 'altair train l7/altair_config.py'


@pytest.fixture(scope='module')
def scene_workdir(tmp_path_factory) -> Path:
    """The folder own-data.md ran in (huge-scene.md goes on from its run)."""
    work = tmp_path_factory.mktemp('tutorial')
    run_page('own-data.md', work)
    return work


@pytest.mark.slow
def test_own_data(scene_workdir):
    import rasterio
    from pyogrio import read_info

    from altair.datasets.sample_data import landsat7_scene
    pred = scene_workdir / 'l7_pred'
    assert sorted(p.name for p in pred.iterdir()) == [
        'landsat_multiband_labels.tif', 'landsat_multiband_overlay.png',
        'landsat_multiband_polygons.gpkg']
    with rasterio.open(landsat7_scene()) as src, \
            rasterio.open(pred / 'landsat_multiband_labels.tif') as out:
        assert (out.crs, out.transform, out.shape) == (src.crs, src.transform, src.shape)
        valid = src.read_masks(1) > 0
        labels = out.read(1)
    assert (labels[~valid] == 255).all() and (labels[valid] < 7).all()
    info = read_info(pred / 'landsat_multiband_polygons.gpkg')
    assert info['features'] > 0
    assert {'class', 'class_name', 'area', 'mean_prob'} <= set(info['fields'])
    config = (scene_workdir / 'l7' / 'altair_config.py').read_text()
    assert 'max_iters=2' in config.replace(' ', '')
    [run] = (scene_workdir / 'runs').iterdir()
    assert (run / 'curves.png').read_bytes()[:4] == b'\x89PNG'


@pytest.mark.slow
@pytest.mark.extended
def test_huge_scene(scene_workdir):
    import rasterio
    from rio_cogeo.cogeo import cog_validate
    run_page('huge-scene.md', scene_workdir)
    whole = scene_workdir / 'big' / 'landsat_multiband_labels.tif'
    split = scene_workdir / 'big_2p' / 'landsat_multiband_labels.tif'
    assert cog_validate(str(whole))[0]
    resumed = scene_workdir / 'big_resumed' / 'landsat_multiband_labels.tif'
    assert resumed.read_bytes() == whole.read_bytes()
    with rasterio.open(whole) as a, rasterio.open(split) as b:
        assert np.array_equal(a.read(), b.read())  # 2 processes give one process's labels
    with rasterio.open(scene_workdir / 'big' / 'landsat_multiband_uncertainty.tif') as u:
        entropy = u.read(1)
    assert np.nanmin(entropy) >= 0 and np.nanmax(entropy) <= 1 + 1e-6
    assert not list((scene_workdir / 'big').glob('.*journal*'))  # finished: no journal left


@pytest.mark.slow
@pytest.mark.extended
def test_medical_volumes(tmp_path):
    import nibabel as nib
    run_page('medical-volumes.md', tmp_path)
    summary = json.loads((tmp_path / 'seg' / 'summary.json').read_text())
    cases = sorted(p.name for p in (tmp_path / 'mni' / 'images').iterdir())
    assert len(summary['metric_per_case']) == len(cases) == 4
    for name in cases:
        src = nib.load(tmp_path / 'mni' / 'images' / name)
        seg = nib.load(tmp_path / 'seg' / name.replace('.nii', '_seg.nii'))
        assert seg.shape == src.shape and np.array_equal(seg.affine, src.affine)


@pytest.mark.slow
@pytest.mark.extended
def test_plugin(tmp_path):
    """The plugin is listed, passes the contract and trains (then the page uninstalls it)."""
    import sys
    try:
        proc = run_page('plugin.md', tmp_path)
    finally:  # uninstalled even when the page fails before its last line
        subprocess.run([sys.executable, '-m', 'pip', 'uninstall', '-y', '-q', 'acme-losses'],
                       capture_output=True)
    out = proc.stdout + proc.stderr
    assert 'altair model: SmoothedCrossEntropyLoss' in out and 'contract: ok' in out
    [log] = (tmp_path / 'runs').glob('*/*/*.log')  # the training logged the plugin's term
    assert 'loss_smooth_ce: ' in log.read_text()
